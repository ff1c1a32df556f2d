"""The demo data set's mailbox, so a fresh install can be tried with any mail client."""

from caredesk.accounts.models import Team
from caredesk.channels.email.models import Mailbox

DEMO_ADDRESS = "support@demo.caredesk.test"


def create_demo_mailboxes() -> None:
    Mailbox.objects.get_or_create(address=DEMO_ADDRESS, defaults={"name": "Demo Support"})
    for slug, local in (("billing", "billing"), ("technical", "tech"), ("orders", "orders")):
        team = Team.objects.filter(slug=slug).first()
        if team is not None:
            Mailbox.objects.get_or_create(
                address=f"{local}@demo.caredesk.test",
                defaults={"name": f"Demo {team.name}", "team": team},
            )
