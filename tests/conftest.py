"""Shared fixtures: personas on two teams, like a real support floor.

alice  - mid-level agent on Billing        bob    - junior agent on Billing
carol  - senior agent on Technical         lead   - team lead of Billing
admin  - admin (sees everything)
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from caredesk.accounts.models import Role, Team, Tier, User
from tests import factories


@pytest.fixture(autouse=True)
def fresh_cache():
    """Every test starts with an empty cache: ids are reused after a flush, so a collision-presence
    entry or a rate-limit counter left by an earlier test would otherwise leak into this one. The
    compiled triggers too: a test that pins their recheck would otherwise keep an earlier test's.
    (Tests that count statements warm the caches they count without.)"""
    from django.core.cache import cache

    from caredesk.automation.services import forget_triggers
    from caredesk.core.snapshot import ProcessSnapshot

    cache.clear()
    ProcessSnapshot.clear_all()
    forget_triggers()


@dataclass
class Personas:
    billing: Team
    technical: Team
    alice: User
    bob: User
    carol: User
    lead: User
    admin: User


@pytest.fixture
def personas(db) -> Personas:
    billing = factories.team("Billing")
    technical = factories.team("Technical")
    return Personas(
        billing=billing,
        technical=technical,
        alice=factories.agent(
            email="alice@example.test", name="Alice", tier=Tier.MID, teams=[billing]
        ),
        bob=factories.agent(
            email="bob@example.test", name="Bob", tier=Tier.JUNIOR, teams=[billing]
        ),
        carol=factories.agent(
            email="carol@example.test", name="Carol", tier=Tier.SENIOR, teams=[technical]
        ),
        lead=factories.agent(
            email="lead@example.test",
            name="Lena Lead",
            role=Role.LEAD,
            tier=Tier.LEAD,
            teams=[billing],
        ),
        admin=factories.agent(
            email="admin@example.test", name="Ada Admin", role=Role.ADMIN, tier=Tier.LEAD
        ),
    )
