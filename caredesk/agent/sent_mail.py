"""The "Sent mail" admin page: the local mail sink's messages (demo mode, admins only).

Only when outbound mail goes to the sink (CAREDESK_EMAIL_SINK, docs/configuration.md): in
production mail leaves by SMTP or a provider and this page does not exist (404).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from caredesk.agent.admin_views import _nav
from caredesk.agent.views import agent_view
from caredesk.channels.email import sink


def _check(request: HttpRequest) -> None:
    if not getattr(request.user, "is_admin", False):
        raise PermissionDenied("Only admins can read the sent mail.")
    if not sink.sink_active():
        raise Http404("Outbound mail is sent, not kept here (the mail sink is off).")


@agent_view
def sent_mail_list(request: HttpRequest) -> HttpResponse:
    _check(request)
    return render(
        request,
        "agent/sent_mail.html",
        {"sections": _nav(request), "section": "sent-mail", "mails": sink.sent_mails()},
    )


@agent_view
def sent_mail_detail(request: HttpRequest, name: str) -> HttpResponse:
    _check(request)
    mail = sink.sent_mail(name)
    if mail is None:
        raise Http404("No such mail in the sink.")
    return render(
        request,
        "agent/sent_mail.html",
        {"sections": _nav(request), "section": "sent-mail", "mail": mail},
    )
