"""The demo data set's chat widget (key "demo"), embedded on /chat/demo/."""

from __future__ import annotations

from caredesk.accounts.models import Team
from caredesk.channels.chat.models import ChatWidget


def create_demo_widget() -> None:
    team = Team.objects.filter(slug="technical").first() or Team.objects.first()
    ChatWidget.objects.get_or_create(
        key="demo",
        defaults={
            "name": "Demo shop",
            "team": team,
            "identity_secret": "demo-identity-secret",
            "topics": ["Orders and delivery", "Billing", "Technical problem"],
        },
    )
