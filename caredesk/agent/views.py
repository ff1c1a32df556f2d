"""The agent workspace (server-rendered, htmx-enhanced). Views are thin: they parse the request,
call services and render. Every ticket is loaded through access_ticket (404 outside scope)."""

from __future__ import annotations

import html
import uuid
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db.models import Exists, OuterRef
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_POST

from caredesk.accounts.models import Team, User
from caredesk.agent import services as workspace
from caredesk.agent.models import SavedView
from caredesk.automation.services import macros_for, snippets_for
from caredesk.core.errors import Conflict, DomainError, NotFound
from caredesk.core.html import inline_image_urls, link_inline_images
from caredesk.customers import services as crm
from caredesk.customers.models import Customer, Organization
from caredesk.search.services import search as run_search
from caredesk.sla.badges import badge as sla_badge
from caredesk.sla.models import TicketSla
from caredesk.tickets import services as tickets
from caredesk.tickets.models import (
    ACTIVE_STATUSES,
    Attachment,
    Channel,
    CustomField,
    EventKind,
    Message,
    Priority,
    Status,
    Ticket,
    TicketEvent,
)

# The composer's "Then set" choices (a macro may set any of them).
STATUS_AFTER_CHOICES = [
    (Status.OPEN, "Open"),
    (Status.PENDING, "Pending"),
    (Status.ON_HOLD, "On hold"),
    (Status.SOLVED, "Solved"),
]

# Events already visible as messages in the timeline.
MESSAGE_EVENTS = {EventKind.MESSAGE_ADDED, EventKind.NOTE_ADDED, EventKind.VIEWED}


def agent_view(view):  # type: ignore[no-untyped-def]
    """Agents only; a DomainError becomes a message on the page instead of a 500."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from exc

    return wrapper


class LoginView(auth_views.LoginView):
    template_name = "agent/login.html"
    redirect_authenticated_user = True


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "agent/password_change.html"

    def get_success_url(self) -> str:
        messages.success(self.request, "Your password was changed.")
        return reverse("agent:inbox")


@agent_view
def inbox(request: HttpRequest) -> HttpResponse:
    agent: User = request.user  # type: ignore[assignment]
    view = request.GET.get("view", "mine")
    if view not in workspace.VIEW_KEYS:
        view = "mine"
    filters = workspace.clean_filters(request.GET)
    sort = request.GET.get("sort", "-updated_at")
    try:
        page = workspace.inbox(
            agent, view, filters, sort=sort, cursor=request.GET.get("cursor") or None
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("agent:inbox")
    more_rows = bool(request.htmx and request.GET.get("cursor"))  # type: ignore[attr-defined]
    columns = workspace.inbox_columns(agent)
    context: dict[str, Any] = {
        "view": view,
        "show": dict.fromkeys(columns, True),
        "column_count": len(columns) + 3,
        "rows": workspace.inbox_rows(page.items),
        "page": page,
        "filters": filters,
        "sort": sort,
    }
    if not more_rows:
        nav = workspace.view_nav(agent, view)
        context.update(
            view_nav=nav,
            total=workspace.inbox_total(agent, view, filters, {n["key"]: n["count"] for n in nav}),
            view_label=next(v.label for v in workspace.VIEWS if v.key == view),
            saved_views=SavedView.objects.filter(owner=agent),
            column_choices=[
                (key, label, key in columns) for key, label in workspace.INBOX_COLUMNS.items()
            ],
            filter_options=_filter_options(agent, filters, sort),
        )
    return render(request, "agent/_ticket_rows.html" if more_rows else "agent/inbox.html", context)


def _escape(value: Any) -> str:
    """conditional_escape's result (Django's escape is html.escape of str()), without its
    lazy-argument wrapper, which cost more than the escaping itself on long option lists."""
    if hasattr(value, "__html__"):
        return str(value.__html__())
    return html.escape(str(value))


def _options(choices: Any, selected: str) -> SafeString:
    """A select's <option> tags, escaped and joined here rather than by a template loop: an
    assignee list of a large team is hundreds of template nodes on every render."""
    return mark_safe(  # noqa: S308 - every value and label is escaped by _escape
        "".join(
            f'<option value="{_escape(value)}"'
            f"{' selected' if str(value) == selected else ''}>{_escape(label)}</option>"
            for value, label in choices
        )
    )


def _filter_options(agent: User, filters: dict[str, str], sort: str) -> dict[str, Any]:
    """The inbox filter form's choices, with the current ones marked, as plain values."""
    team_agents = (
        User.objects.filter(is_active=True, teams__in=agent.team_ids())
        .distinct()
        .order_by("name")
        .values_list("pk", "name")
    )
    return {
        "status": _options(Status.choices, filters.get("status", "")),
        "priority": _options(
            [(label, label.title()) for _, label in Priority.choices], filters.get("priority", "")
        ),
        "channel": _options(Channel.choices, filters.get("channel", "")),
        "team": _options(workspace.TEAM_CHOICES.get(), filters.get("team", "")),
        "assignee": _options(team_agents, filters.get("assignee", "")),
        "sort": _options(workspace.SORTS.items(), sort),
    }


@agent_view
@require_POST
def save_view(request: HttpRequest) -> HttpResponse:
    try:
        saved = workspace.save_view(
            request.user,
            request.POST.get("name", ""),
            request.POST.get("view", "mine"),  # type: ignore[arg-type]
            workspace.clean_filters(request.POST),
        )
        messages.success(request, f"Saved the view “{saved.name}”.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(request.POST.get("next") or "agent:inbox")


@agent_view
@require_POST
def inbox_columns(request: HttpRequest) -> HttpResponse:
    """Save which columns the agent's inbox shows."""
    try:
        workspace.set_inbox_columns(request.user, request.POST.getlist("column"))  # type: ignore[arg-type]
        messages.success(request, "Columns saved.")
    except DomainError as exc:
        messages.error(request, exc.message)
    back = request.POST.get("next", "")
    return redirect(back if back.startswith("/agent/") and "//" not in back else "agent:inbox")


@agent_view
@require_POST
def delete_view(request: HttpRequest, view_id: int) -> HttpResponse:
    SavedView.objects.filter(pk=view_id, owner=request.user).delete()
    return redirect("agent:inbox")


@agent_view
@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    ids = [int(i) for i in request.POST.getlist("ticket") if i.isdigit()]
    try:
        result = workspace.bulk_update(
            request.user, ids, request.POST.get("action", ""), request.POST.get("value", "")
        )  # type: ignore[arg-type]
        messages.success(request, f"Updated {result.changed} ticket(s).")
        for error in result.errors[:10]:
            messages.warning(request, error)
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(request.POST.get("next") or "agent:inbox")


MESSAGE_COLUMNS = [f.name for f in Message._meta.concrete_fields]
EVENT_COLUMNS = [f.name for f in TicketEvent._meta.concrete_fields]
AUTHOR_COLUMNS = [
    "author_agent__id",
    "author_agent__name",
    "author_customer__id",
    "author_customer__name",
    "author_customer__email",
    "author_customer__phone",
]


def _timeline(ticket: Ticket) -> list[dict[str, Any]]:
    messages = list(
        Message.objects.filter(ticket=ticket)
        .select_related("author_agent", "author_customer")
        # Every column of the message, of its authors only what the timeline shows (the user
        # and customer rows are wide, and building them was a good part of the query's time).
        .only(*MESSAGE_COLUMNS, *AUTHOR_COLUMNS)
        .annotate(has_files=Exists(Attachment.objects.filter(message=OuterRef("pk"))))
    )
    # Attachments are read only for the messages that have some (most have none).
    files: dict[int, list[Attachment]] = {m.pk: [] for m in messages}
    with_files = [m.pk for m in messages if m.has_files]  # type: ignore[attr-defined]
    if with_files:
        for attachment in Attachment.objects.filter(message_id__in=with_files).order_by("id"):
            files[attachment.message_id].append(attachment)  # type: ignore[index]
    for m in messages:
        m.files = files[m.pk]  # type: ignore[attr-defined]
        if m.files and "cid:" in m.body_html:  # type: ignore[attr-defined]
            # Inline images shown from the agent's access-checked download of each one.
            urls = inline_image_urls(m.files, "agent:attachment")  # type: ignore[attr-defined]
            m.body_html = link_inline_images(m.body_html, urls)
        # Set for every message (ticket_page fills them in for those with remote images): the
        # template looking up a missing attribute costs a dir() of the model instance.
        m.images_toggle = m.images_html = ""  # type: ignore[attr-defined]
    items: list[dict[str, Any]] = [
        {"kind": "message", "at": m.created_at, "id": m.pk, "message": m} for m in messages
    ]
    events = (
        TicketEvent.objects.filter(ticket=ticket)
        .exclude(kind__in=MESSAGE_EVENTS)
        .select_related("actor_agent")
        .only(*EVENT_COLUMNS, "actor_agent__id", "actor_agent__name")
    )
    shown = list(events)
    workspace.describe_events(shown)
    items += [{"kind": "event", "at": e.created_at, "id": e.pk, "event": e} for e in shown]
    return sorted(items, key=lambda i: (i["at"], 0 if i["kind"] == "message" else 1, i["id"]))


def _ticket_context(request: HttpRequest, ticket: Ticket) -> dict[str, Any]:
    agent: User = request.user  # type: ignore[assignment]
    # The requester came with the ticket, and usually shares its organization (read with it).
    requester = ticket.requester
    if requester.organization_id and requester.organization_id == ticket.organization_id:
        requester.organization = ticket.organization
    previous = list(
        tickets.visible_tickets(agent)
        .filter(requester_id=requester.pk)
        .exclude(pk=ticket.pk)
        .only("id", "subject", "status", "channel")
        .order_by("-created_at")[:10]
    )
    facts = workspace.ticket_facts(ticket)
    # The sidebar's rarely used parts (SLA, macros, escalation, snippets, the customer edit form)
    # come after the page from ticket_workflow and ticket_customer_form.
    return {
        "ticket": ticket,
        "timeline": _timeline(ticket),
        "requester": requester,
        "identities": facts.identities,
        "previous": previous,
        "tags": facts.tags,
        "followers": [name for _, name in facts.followers],
        "following": any(pk == agent.pk for pk, _ in facts.followers),
        "links_out": facts.links_out,
        "links_in": facts.links_in,
        "team_options": _options(workspace.TEAM_CHOICES.get(), str(ticket.team_id)),
        "assignee_options": _options(
            workspace.assignee_choices(ticket.team_id), str(ticket.assignee_id)
        ),
        "custom_fields": [
            (f, ticket.custom_fields.get(f.key)) for f in workspace.ACTIVE_CUSTOM_FIELDS.get()
        ],
        "cc": facts.cc,
        "others": workspace.others_on_ticket(ticket.pk, agent),
        "status_options": _options(Status.choices, ticket.status),
        "priority_options": _options(
            [(label, label.title()) for _, label in Priority.choices], ticket.priority_name
        ),
        # Names this opening of the composer, so a second submit of it sends nothing.
        "draft_key": uuid.uuid4().hex,
        "status_after_choices": STATUS_AFTER_CHOICES,
    }


@agent_view
def ticket_page(request: HttpRequest, number: int) -> HttpResponse:
    ticket = tickets.access_ticket(request.user, number)  # type: ignore[arg-type]
    workspace.mark_presence(ticket.pk, request.user)  # type: ignore[arg-type]
    context = _ticket_context(request, ticket)
    shown = workspace.image_message_ids(request.GET.get("images", ""))
    loaded = False
    for item in context["timeline"]:
        message = item.get("message")
        if message is None or not (message.metadata or {}).get("html_with_images"):
            continue
        message.images_toggle = workspace.image_toggle_url(shown, message.pk)
        message.images_html = workspace.html_with_images(message) if message.pk in shown else ""
        loaded = loaded or bool(message.images_html)
    restored = request.session.pop("composer_draft", None)
    if isinstance(restored, dict) and restored.get("ticket") == ticket.pk:
        context["restored"] = restored
    if request.GET.get("macro"):
        # The Apply button without its script: the page comes back with the macro in the composer.
        context["draft"] = _macro_draft(request, ticket, request.GET["macro"])
    response = render(request, "agent/ticket.html", context)
    if loaded:
        # Only this response may fetch remote images, and without telling the sender's server
        # which ticket page asked.
        response._csp_update = {"img-src": ["https:", "http:"]}  # type: ignore[attr-defined]
        response["Referrer-Policy"] = "no-referrer"
    return response


@agent_view
def ticket_workflow(request: HttpRequest, number: int) -> HttpResponse:
    """The ticket page's Workflow card (SLA, macros, escalation) and, out of band, the composer's
    list of snippets: loaded after the page, as few agents use them on a given ticket."""
    agent: User = request.user  # type: ignore[assignment]
    ticket = tickets.access_ticket(agent, number)
    sla = TicketSla.objects.select_related("policy").filter(ticket=ticket).first()
    return render(
        request,
        "agent/_ticket_workflow.html",
        {
            "ticket": ticket,
            "sla": sla,
            "sla_badge": sla_badge(
                sla.next_due,
                sla.paused_since,
                sla.policy.warn_before_minutes if sla.policy else None,
                timezone.now(),
            )
            if sla and ticket.status in ACTIVE_STATUSES
            else None,
            "macros": macros_for(agent),
            "snippets": snippets_for(agent),
            "escalation_teams": _options(workspace.TEAM_CHOICES.get(), ""),
        },
    )


@agent_view
def ticket_customer_form(request: HttpRequest, number: int) -> HttpResponse:
    """The requester's edit form on the ticket page, loaded when "Edit customer" is opened (the
    organization list is long and the form rarely used)."""
    ticket = tickets.access_ticket(request.user, number)  # type: ignore[arg-type]
    requester = ticket.requester
    return render(
        request,
        "agent/_ticket_customer_form.html",
        {
            "ticket": ticket,
            "requester": requester,
            "organization_options": _options(
                Organization.objects.order_by("name").values_list("pk", "name")[:500],
                str(requester.organization_id),
            ),
        },
    )


def _uploads(request: HttpRequest) -> list[tickets.InboundAttachment]:
    return [
        tickets.InboundAttachment(
            filename=f.name or "attachment", content_type=f.content_type or "", content=f.read()
        )
        for f in request.FILES.getlist("files")
    ]


def _recipients(request: HttpRequest) -> workspace.Recipients | None:
    """CC, BCC and reply-all from the composer (shown on email tickets only)."""
    post = request.POST
    if post.get("recipients") != "1":
        return None
    return workspace.Recipients(
        reply_all=post.get("reply_all") == "1",
        cc=workspace.parse_addresses(post.get("cc", ""), "CC"),
        bcc=workspace.parse_addresses(post.get("bcc", ""), "BCC"),
    )


@agent_view
@require_POST
def reply(request: HttpRequest, number: int) -> HttpResponse:
    ticket = tickets.access_ticket(request.user, number)  # type: ignore[arg-type]
    internal = request.POST.get("internal") == "1"
    status_after = request.POST.get("status_after") or None
    try:
        result = workspace.send_from_composer(
            request.user,  # type: ignore[arg-type]
            ticket,
            body_text=request.POST.get("body", ""),
            internal=internal,
            attachments=_uploads(request),
            status_after=status_after,
            macro=_chosen_macro(request.POST.get("macro", "")),
            draft_key=request.POST.get("draft_key", ""),
            markdown=request.POST.get("format") == "markdown",
            recipients=_recipients(request),
        )
        if result.duplicate:
            messages.info(request, "That was already sent; it was not sent again.")
        elif result.message is None:
            messages.success(request, "Macro changes applied.")
        else:
            messages.success(request, "Note added." if internal else "Reply sent.")
    except DomainError as exc:
        messages.error(request, exc.message)
        if exc.code == "ticket_closed":
            request.session["follow_up_draft"] = request.POST.get("body", "")[:20000]
        else:
            # Nothing typed is lost: the page comes back with the draft in the composer.
            request.session["composer_draft"] = {
                "ticket": ticket.pk,
                **{k: request.POST.get(k, "")[:20000] for k in ("body", "cc", "bcc")},
            }
    return redirect("agent:ticket", number=ticket.pk)


@agent_view
@require_POST
def composer_preview(request: HttpRequest) -> HttpResponse:
    """The composer's Markdown as the message will show it (the same sanitizer and redaction)."""
    text = request.POST.get("body", "")
    if len(text) > 100_000:
        return HttpResponse("The text is too long to preview.", status=413)
    html = link_inline_images(
        workspace.composer_html(text),
        workspace.composer_image_urls(request.user, text),  # type: ignore[arg-type]
    )
    return render(request, "agent/_composer_preview.html", {"html": html})


@agent_view
@require_POST
def composer_image(request: HttpRequest, number: int) -> HttpResponse:
    """An image inserted or pasted into the composer: stored for the draft, answered with the
    Markdown that shows it (`![name](cid:...)`)."""
    ticket = tickets.access_ticket(request.user, number)  # type: ignore[arg-type]
    upload = request.FILES.get("image")
    if upload is None:
        return JsonResponse({"error": "Choose an image to insert."}, status=400)
    try:
        if (upload.size or 0) > settings.CAREDESK_MAX_ATTACHMENT_BYTES:
            tickets.check_attachment(upload.name or "image", upload.size or 0)
        image = workspace.upload_composer_image(
            request.user,  # type: ignore[arg-type]
            ticket,
            upload.name or "image",
            upload.read(),
        )
    except DomainError as exc:
        return JsonResponse({"error": exc.message, "code": exc.code}, status=exc.status)
    return JsonResponse(
        {
            "markdown": workspace.composer_image_markdown(image),
            "content_id": image.attachment.content_id,
            "url": reverse("agent:composer-image", args=[image.attachment_id]),
        },
        status=201,
    )


@agent_view
def pending_image(request: HttpRequest, attachment_id: int) -> HttpResponse:
    """A composer image not sent yet: only the agent who inserted it may see it (the preview)."""
    item = get_object_or_404(
        Attachment,
        pk=attachment_id,
        message__isnull=True,
        composer_image__owner=request.user,
    )
    response = FileResponse(item.file.open("rb"), content_type=item.content_type)
    response["Cache-Control"] = "private, no-store"
    return response


@agent_view
@require_POST
def create_follow_up(request: HttpRequest, number: int) -> HttpResponse:
    ticket = tickets.access_ticket(request.user, number)  # type: ignore[arg-type]
    body = request.POST.get("body") or request.session.pop("follow_up_draft", "")
    try:
        new = tickets.follow_up(request.user, ticket, body_text=body)  # type: ignore[arg-type]
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("agent:ticket", number=ticket.pk)
    messages.success(request, f"Follow-up #{new.pk} created and your reply sent.")
    return redirect("agent:ticket", number=new.pk)


def _field_changes(request: HttpRequest, ticket: Ticket) -> dict[str, Any]:
    post = request.POST
    changes: dict[str, Any] = {}
    for name in ("status", "priority", "category", "language", "subject"):
        if name in post:
            changes[name] = post[name]
    if "team" in post:
        changes["team"] = (
            Team.objects.filter(pk=post["team"]).first() if post["team"].isdigit() else None
        )
    if "assignee" in post:
        value = post["assignee"]
        if value == "me":
            changes["assignee"] = request.user
        else:
            changes["assignee"] = (
                User.objects.filter(pk=value, is_active=True).first() if value.isdigit() else None
            )
    if "tags" in post:
        changes["tags"] = [t for t in post["tags"].replace(",", " ").split() if t]
    custom = {}
    for field in CustomField.objects.filter(active=True):
        key = f"cf_{field.key}"
        if key in post:
            raw = post[key].strip()
            if field.field_type == "number":
                try:
                    custom[field.key] = float(raw) if "." in raw else int(raw) if raw else None
                except ValueError:
                    custom[field.key] = raw
            elif field.field_type == "boolean":
                custom[field.key] = raw == "1"
            else:
                custom[field.key] = raw or None
    if custom:
        changes["custom_fields"] = custom
    if "restricted" in post:
        changes["restricted"] = post["restricted"] == "1"
    return changes


@agent_view
@require_POST
def update(request: HttpRequest, number: int) -> HttpResponse:
    ticket = tickets.access_ticket(request.user, number)  # type: ignore[arg-type]
    version = request.POST.get("version")
    try:
        tickets.update_ticket(
            request.user,
            ticket,
            _field_changes(request, ticket),  # type: ignore[arg-type]
            expected_version=int(version) if version and version.isdigit() else None,
        )
        messages.success(request, "Ticket updated.")
    except Conflict as exc:
        messages.error(request, exc.message)
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("agent:ticket", number=ticket.pk)


@agent_view
@require_POST
def quick_action(request: HttpRequest, number: int, action: str) -> HttpResponse:
    """Keyboard shortcuts: assign to me (a) and solve (s)."""
    ticket = tickets.access_ticket(request.user, number)  # type: ignore[arg-type]
    try:
        if action == "assign-me":
            tickets.assign(request.user, ticket, request.user)  # type: ignore[arg-type]
            messages.success(request, "Assigned to you.")
        elif action == "solve":
            tickets.change_status(request.user, ticket, Status.SOLVED)
            messages.success(request, "Solved.")
        elif action == "follow":
            tickets.set_following(request.user, ticket, request.user, request.POST.get("on") != "0")  # type: ignore[arg-type]
        else:
            raise Http404("Unknown action")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(
        request.POST.get("next") or reverse("agent:ticket", kwargs={"number": ticket.pk})
    )


@agent_view
@require_POST
def merge(request: HttpRequest, number: int) -> HttpResponse:
    ticket = tickets.access_ticket(request.user, number)  # type: ignore[arg-type]
    target_id = request.POST.get("into", "").lstrip("#").strip()
    try:
        if not target_id.isdigit():
            raise NotFound("Type the number of the ticket to merge into.")
        target = tickets.access_ticket(request.user, int(target_id))  # type: ignore[arg-type]
        tickets.merge(request.user, ticket, target)  # type: ignore[arg-type]
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("agent:ticket", number=ticket.pk)
    messages.success(request, f"Merged #{ticket.pk} into #{target.pk}.")
    return redirect("agent:ticket", number=target.pk)


@agent_view
@require_POST
def split(request: HttpRequest, number: int) -> HttpResponse:
    ticket = tickets.access_ticket(request.user, number)  # type: ignore[arg-type]
    ids = [int(i) for i in request.POST.getlist("message") if i.isdigit()]
    try:
        new = tickets.split(request.user, ticket, ids)  # type: ignore[arg-type]
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("agent:ticket", number=ticket.pk)
    messages.success(request, f"Split into #{new.pk}.")
    return redirect("agent:ticket", number=new.pk)


@agent_view
@require_POST
def link(request: HttpRequest, number: int) -> HttpResponse:
    ticket = tickets.access_ticket(request.user, number)  # type: ignore[arg-type]
    target_id = request.POST.get("target", "").lstrip("#").strip()
    try:
        if not target_id.isdigit():
            raise NotFound("Type the number of the ticket to link.")
        target = tickets.access_ticket(request.user, int(target_id))  # type: ignore[arg-type]
        tickets.link(request.user, ticket, target, request.POST.get("kind", "related"))  # type: ignore[arg-type]
        messages.success(request, f"Linked to #{target.pk}.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("agent:ticket", number=ticket.pk)


@agent_view
def presence(request: HttpRequest, number: int) -> HttpResponse:
    """Collision detection: heartbeat (POST, with state viewing/typing/left) and who else is here."""
    ticket = tickets.access_ticket(request.user, number)  # type: ignore[arg-type]
    if request.method == "POST":
        workspace.mark_presence(ticket.pk, request.user, request.POST.get("state", "viewing"))  # type: ignore[arg-type]
    others = workspace.others_on_ticket(ticket.pk, request.user)  # type: ignore[arg-type]
    return render(request, "agent/_presence.html", {"others": others, "ticket": ticket})


@agent_view
def notifications(request: HttpRequest) -> HttpResponse:
    """The agent's notifications, newest first; POST marks them (or one) read."""
    agent: User = request.user  # type: ignore[assignment]
    if request.method == "POST":
        one = request.POST.get("id", "")
        workspace.mark_notifications_read(agent, [int(one)] if one.isdigit() else None)
        return redirect("agent:notifications")
    return render(
        request,
        "agent/notifications.html",
        {"notifications": workspace.recent_notifications(agent)},
    )


@agent_view
def notification_count(request: HttpRequest) -> HttpResponse:
    """The bell's unread count (loaded after the page, then kept live over the WebSocket)."""
    count = workspace.unread_notifications(request.user)  # type: ignore[arg-type]
    return render(request, "agent/_bell_count.html", {"unread": count})


@agent_view
def open_notification(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Open what a notification points at, marking it read."""
    from caredesk.agent.models import Notification

    note = get_object_or_404(Notification, pk=notification_id, recipient=request.user)
    workspace.mark_notifications_read(request.user, [note.pk])  # type: ignore[arg-type]
    if note.ticket_id is None:
        return redirect("agent:notifications")
    anchor = f"#m{note.message_id}" if note.message_id else ""
    return HttpResponseRedirect(workspace.ticket_url(note.ticket_id) + anchor)


@agent_view
def presence_prompt(request: HttpRequest) -> HttpResponse:
    """The header's nudge (every agent page, refreshed every 30 s): chats are waiting in the
    agent's teams and nobody is online to take them."""
    from caredesk.channels.chat.services import unstaffed_waiting_chats

    agent: User = request.user  # type: ignore[assignment]
    return render(
        request,
        "agent/_presence_prompt.html",
        {"waiting": unstaffed_waiting_chats(agent), "presence": agent.presence},
    )


@agent_view
def attachment(request: HttpRequest, attachment_id: int) -> HttpResponse:
    item = get_object_or_404(
        Attachment.objects.select_related("message"), pk=attachment_id, message__isnull=False
    )
    tickets.access_ticket(request.user, item.message.ticket_id)  # type: ignore[arg-type, union-attr]
    response = FileResponse(item.file.open("rb"), as_attachment=True, filename=item.filename)
    response["Content-Type"] = item.content_type
    return response


@agent_view
def customer_page(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = get_object_or_404(
        Customer.objects.select_related("organization").prefetch_related("identities"),
        pk=customer_id,
    )
    visible = tickets.visible_tickets(request.user).filter(requester=customer)  # type: ignore[arg-type]
    return render(
        request,
        "agent/customer.html",
        {
            "customer": customer,
            "tickets": visible.select_related("team", "assignee").order_by("-created_at")[:50],
            "timeline": crm.timeline(request.user, customer, limit=30, internal=False),  # type: ignore[arg-type]
            "organizations": Organization.objects.order_by("name")[:500],
            "identity_kinds": crm.IdentityKind.choices,
        },
    )


@agent_view
@require_POST
def customer_edit(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = crm.get_customer(customer_id)
    post = request.POST
    try:
        if post.get("identity_value"):
            crm.add_identity(customer, post.get("identity_kind", "email"), post["identity_value"])
        else:
            org_id = post.get("organization", "")
            crm.update_customer(
                customer,
                {
                    "name": post.get("name", customer.name)[:200],
                    "language": post.get("language", customer.language)[:10],
                    "vip": post.get("vip") == "1",
                    "notes": post.get("notes", customer.notes)[:20000],
                    "organization": Organization.objects.filter(pk=org_id).first()
                    if org_id.isdigit()
                    else None,
                },
            )
        messages.success(request, "Customer updated.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(
        post.get("next") or reverse("agent:customer", kwargs={"customer_id": customer.pk})
    )


@agent_view
def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    if (
        query.lstrip("#").isdigit()
        and tickets.visible_tickets(request.user).filter(pk=int(query.lstrip("#"))).exists()
    ):  # type: ignore[arg-type]
        return HttpResponseRedirect(
            reverse("agent:ticket", kwargs={"number": int(query.lstrip("#"))})
        )
    from caredesk.agent.search_filters import SearchFilters
    from caredesk.search.services import agent_results

    filters = SearchFilters(request.GET or None)
    if filters.is_bound and not filters.is_valid():
        return render(
            request,
            "agent/search.html",
            {"query": query, "results": [], "filters": filters},
            status=400,
        )
    narrowed = filters.active()
    hits = (
        run_search(
            query,
            agent=request.user,  # type: ignore[arg-type]
            types=("ticket",) if narrowed else ("ticket", "customer", "article"),
            limit=30,
            ticket_filter=filters.ticket_filter() if narrowed else None,
        )
        if query
        else []
    )
    return render(
        request,
        "agent/search.html",
        {"query": query, "results": agent_results(hits), "filters": filters, "narrowed": narrowed},
    )


@agent_view
@require_POST
def next_ticket(request: HttpRequest) -> HttpResponse:
    """Pull mode: take the highest-priority ticket you are qualified for."""
    from caredesk.routing.services import next_ticket as pull

    ticket = pull(request.user)  # type: ignore[arg-type]
    if ticket is None:
        messages.info(request, "No unassigned ticket you can take right now.")
        return redirect("agent:inbox")
    return redirect("agent:ticket", number=ticket.pk)


@agent_view
@require_POST
def escalate(request: HttpRequest, number: int) -> HttpResponse:
    from caredesk.routing.services import escalate as do_escalate

    ticket = tickets.access_ticket(request.user, number)  # type: ignore[arg-type]
    team_id = request.POST.get("team", "")
    try:
        do_escalate(
            request.user,
            ticket,
            reason=request.POST.get("reason", ""),  # type: ignore[arg-type]
            to_team=Team.objects.filter(pk=team_id).first() if team_id.isdigit() else None,
            to_tier=request.POST.get("tier", ""),
        )
        messages.success(request, "Escalated.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("agent:ticket", number=ticket.pk)


@agent_view
def expand_snippet(request: HttpRequest, number: int) -> HttpResponse:
    """The composer's text expander: what `::shortcut` stands for on this ticket, as JSON."""
    from caredesk.automation.services import expand_shortcut

    ticket = tickets.access_ticket(request.user, number)  # type: ignore[arg-type]
    shortcut = request.GET.get("shortcut", "")
    try:
        text = expand_shortcut(request.user, ticket, shortcut)  # type: ignore[arg-type]
    except DomainError as exc:
        return JsonResponse({"error": exc.message, "code": exc.code}, status=exc.status)
    return JsonResponse({"shortcut": shortcut, "text": text})


def _chosen_macro(value: str) -> Any:
    """The macro a form names (None when it names none); an unknown id is a clear error."""
    from caredesk.automation.models import Macro

    if not value:
        return None
    macro = Macro.objects.filter(pk=int(value)).first() if value.isdigit() else None
    if macro is None:
        raise NotFound("That macro no longer exists; choose another.")
    return macro


def _macro_draft(request: HttpRequest, ticket: Ticket, value: str) -> Any:
    """The macro filled in for the composer, or None with the reason shown on the page."""
    from caredesk.automation.services import macro_draft

    try:
        macro = _chosen_macro(value)
        return macro_draft(request.user, ticket, macro) if macro else None  # type: ignore[arg-type]
    except DomainError as exc:
        messages.error(request, exc.message)
        return None


@agent_view
def apply_macro(request: HttpRequest, number: int) -> HttpResponse:
    """A macro's reply and changes for the composer to show, as JSON (the Apply button's
    script). Nothing is written: the composer's Send applies them."""
    from caredesk.automation.services import macro_draft

    ticket = tickets.access_ticket(request.user, number)  # type: ignore[arg-type]
    try:
        macro = _chosen_macro(request.GET.get("macro", ""))
        if macro is None:
            raise NotFound("Choose a macro.")
        draft = macro_draft(request.user, ticket, macro)  # type: ignore[arg-type]
    except DomainError as exc:
        return JsonResponse({"error": exc.message, "code": exc.code}, status=exc.status)
    return JsonResponse(
        {
            "macro": draft.macro_id,
            "name": draft.name,
            "body": draft.body,
            "internal": draft.internal,
            "status": draft.status,
            "changes": draft.changes,
        }
    )
