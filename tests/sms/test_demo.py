"""The demo data set's SMS account and conversations (the adapter's demo hook)."""

import pytest

from caredesk.channels.base import demo_loaders
from caredesk.channels.sms.demo import DEMO_NUMBER, create_demo_sms
from caredesk.channels.sms.models import SmsAccount
from caredesk.tickets.models import Channel, Ticket

pytestmark = pytest.mark.django_db


def test_the_demo_hook_adds_an_account_and_threaded_sms_tickets():
    assert create_demo_sms in demo_loaders()
    create_demo_sms()
    create_demo_sms()  # run twice (a second `caredesk demo`): nothing doubles
    account = SmsAccount.objects.get()
    assert account.phone_number == DEMO_NUMBER and account.auth_token
    sms = Ticket.objects.filter(channel=Channel.SMS)
    assert sms.count() == 3  # the first customer's two texts are one conversation
    assert sorted(t.messages.count() for t in sms) == [1, 1, 2]
