"""URL map: the API under /api/, the agent workspace under /agent/, the portal under /help/."""

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from caredesk.accounts import twofactor
from caredesk.api import api

urlpatterns = [
    path("", RedirectView.as_view(url="/help/", permanent=False)),
    # Browsers ask for /favicon.ico on pages that name no icon (a raw JSON answer, a PDF).
    path(
        "favicon.ico",
        RedirectView.as_view(url=static("caredesk/favicon.svg"), permanent=True),
    ),
    path("api/", api.urls),
    path("agent/2fa/setup/", twofactor.setup_view, name="2fa-setup"),
    path("agent/2fa/verify/", twofactor.verify_view, name="2fa-verify"),
    path("agent/kb/", include("caredesk.knowledge.agent_urls")),
    path("agent/chats/", include("caredesk.channels.chat.agent_urls")),
    # The CSAT survey answer page, /survey/<token>/ (public).
    path("", include("caredesk.surveys.urls")),
    path("chat/", include("caredesk.channels.chat.urls")),
    path("agent/", include("caredesk.agent.urls")),
    path("help/", include("caredesk.knowledge.urls")),
    path("help/", include("caredesk.portal.urls")),
    path("django-admin/", admin.site.urls),
    # Provider inbound webhooks, e.g. /email/anymail/mailgun/inbound/ (signatures checked by anymail).
    path("email/anymail/", include("anymail.urls")),
    # Twilio's SMS webhooks, e.g. /sms/twilio/<account>/inbound/ (signatures checked).
    path("sms/twilio/", include("caredesk.channels.sms.urls")),
]
