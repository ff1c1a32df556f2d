import pytest
from django.core.cache import cache

from caredesk.channels.email.models import Mailbox


@pytest.fixture
def mailbox(db, personas):
    cache.clear()
    return Mailbox.objects.create(
        address="support@demo.caredesk.test", name="Support", team=personas.billing
    )
