"""The customer portal and help-centre shell (/help/). Customers are not Django users: a signed-in
customer is a customer id in the session, set by a magic link."""

from __future__ import annotations

import logging
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from caredesk.core.errors import DomainError, NotFound
from caredesk.core.html import (
    inline_image_urls,
    link_inline_images,
    relink_agent_attachment_images,
)
from caredesk.customers.models import Customer
from caredesk.knowledge.services import move_search_session
from caredesk.portal import services
from caredesk.portal.services import RateLimited, Submission
from caredesk.tickets import services as tickets
from caredesk.tickets.models import Status

logger = logging.getLogger("caredesk.portal")
SESSION_KEY = "portal_customer_id"
HONEYPOT = "website"


def client_ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def current_customer(request: HttpRequest) -> Customer | None:
    customer_id = request.session.get(SESSION_KEY)
    if not customer_id:
        return None
    return Customer.objects.filter(pk=customer_id, anonymized_at__isnull=True).first()


def customer_required(view):  # type: ignore[no-untyped-def]
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        customer = current_customer(request)
        if customer is None:
            return redirect(f"/help/signin/?next={request.path}")
        request.customer = customer  # type: ignore[attr-defined]
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from exc

    return wrapper


def home(request: HttpRequest) -> HttpResponse:
    from caredesk.knowledge.models import Category

    categories = Category.objects.filter(internal=False).prefetch_related("sections__articles")
    return render(
        request,
        "portal/home.html",
        {"customer": current_customer(request), "categories": categories},
    )


def new_request(request: HttpRequest) -> HttpResponse:
    customer = current_customer(request)
    form = {
        "name": customer.name if customer else "",
        "email": customer.email if customer else "",
        "subject": "",
        "body": "",
    }
    if request.method == "POST":
        form = {k: request.POST.get(k, "").strip() for k in ("name", "email", "subject", "body")}
        if request.POST.get(HONEYPOT):
            # A bot filled the hidden field: show the normal thanks, store nothing.
            logger.info("portal form honeypot triggered from %s", client_ip(request))
            return redirect("portal:thanks")
        uploads = []
        for upload in request.FILES.getlist("files"):
            try:
                tickets.check_attachment(upload.name or "attachment", upload.size or 0)
            except DomainError as exc:
                messages.error(request, exc.message)
                return render(
                    request,
                    "portal/new_request.html",
                    {"form": form, "customer": customer},
                    status=400,
                )
            uploads.append(
                tickets.InboundAttachment(
                    upload.name or "attachment", upload.content_type or "", upload.read()
                )
            )
        try:
            ticket = services.submit_request(
                Submission(form["name"], form["email"], form["subject"], form["body"], uploads),
                client_ip=client_ip(request),
                session_key=request.session.session_key or "",
            )
        except RateLimited as exc:
            return render(
                request,
                "portal/new_request.html",
                {"form": form, "customer": customer, "error": exc.message},
                status=429,
            )
        except DomainError as exc:
            return render(
                request,
                "portal/new_request.html",
                {"form": form, "customer": customer, "error": exc.message},
                status=400,
            )
        request.session["portal_last_ticket"] = ticket.pk
        return redirect("portal:thanks")
    return render(request, "portal/new_request.html", {"form": form, "customer": customer})


def thanks(request: HttpRequest) -> HttpResponse:
    return render(
        request, "portal/thanks.html", {"number": request.session.get("portal_last_ticket")}
    )


def sign_in(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            services.send_sign_in_link(
                request.POST.get("email", "").strip(), client_ip=client_ip(request)
            )
        except RateLimited as exc:
            return render(request, "portal/signin.html", {"error": exc.message}, status=429)
        return render(request, "portal/signin.html", {"sent": True})
    return render(request, "portal/signin.html", {})


def redeem(request: HttpRequest, token: str) -> HttpResponse:
    try:
        customer = services.redeem_link(token)
    except DomainError as exc:
        return render(request, "portal/signin.html", {"error": exc.message}, status=400)
    searching_as = request.session.session_key or ""
    request.session.cycle_key()
    move_search_session(searching_as, request.session.session_key or "")
    request.session[SESSION_KEY] = customer.pk
    request.session.set_expiry(settings.SESSION_COOKIE_AGE)
    return redirect("portal:requests")


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    request.session.pop(SESSION_KEY, None)
    return redirect("portal:home")


@customer_required
def my_requests(request: HttpRequest) -> HttpResponse:
    customer: Customer = request.customer  # type: ignore[attr-defined]
    items = (
        tickets.customer_tickets(customer).select_related("requester").order_by("-updated_at")[:100]
    )
    return render(request, "portal/requests.html", {"customer": customer, "tickets": items})


@customer_required
def request_detail(request: HttpRequest, number: int) -> HttpResponse:
    customer: Customer = request.customer  # type: ignore[attr-defined]
    ticket = tickets.access_ticket_as_customer(customer, number)
    if request.method == "POST":
        uploads = [
            tickets.InboundAttachment(f.name or "attachment", f.content_type or "", f.read())
            for f in request.FILES.getlist("files")
        ]
        try:
            if ticket.status == Status.CLOSED:
                raise DomainError(
                    "This request is closed. Please submit a new request.", code="ticket_closed"
                )
            tickets.post_message(
                tickets.Actor.of_customer(customer),
                ticket,
                body_text=request.POST.get("body", ""),
                attachments=uploads,
            )
            messages.success(request, "Your reply was sent.")
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("portal:request", number=ticket.pk)
    public = list(
        ticket.messages.filter(internal=False)
        .select_related("author_agent", "author_customer")
        .prefetch_related("attachments")
        .order_by("created_at", "id")
    )
    for message in public:
        if "cid:" in message.body_html or "/agent/attachments/" in message.body_html:
            # Inline images from the customer's own access-checked download of each one.
            files = list(message.attachments.all())
            urls = inline_image_urls(files, "portal:attachment")
            message.body_html = relink_agent_attachment_images(
                link_inline_images(message.body_html, urls),
                {a.pk: reverse("portal:attachment", args=[a.pk]) for a in files},
            )
    return render(
        request,
        "portal/request.html",
        {"customer": customer, "ticket": ticket, "messages_list": public},
    )


@customer_required
def attachment(request: HttpRequest, attachment_id: int) -> HttpResponse:
    from django.http import FileResponse

    from caredesk.tickets.models import Attachment

    item = (
        Attachment.objects.select_related("message")
        .filter(pk=attachment_id, message__internal=False)
        .first()
    )
    if item is None or item.message is None:
        raise Http404("No such file")
    tickets.access_ticket_as_customer(request.customer, item.message.ticket_id)  # type: ignore[attr-defined]
    return FileResponse(item.file.open("rb"), as_attachment=True, filename=item.filename)
