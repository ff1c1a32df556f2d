"""HTTP side of live chat: the widget script, a demo page that embeds it, file uploads from the
widget, and the agent's chat desk. Thin: parse, call services, render."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from caredesk.accounts.models import Presence, Team, User
from caredesk.channels.chat import services as chat
from caredesk.core.errors import DomainError

WIDGET_JS = Path(__file__).parent / "static" / "chat" / "widget.js"


def widget_script(request: HttpRequest) -> HttpResponse:
    """The one script an embedding site includes; public, cacheable, loadable from any origin."""
    response = HttpResponse(WIDGET_JS.read_bytes(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=300"
    response["Access-Control-Allow-Origin"] = "*"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


def demo_page(request: HttpRequest) -> HttpResponse:
    return render(request, "chat/demo.html", {"widget_key": request.GET.get("widget", "demo")})


def _cors(response: HttpResponse, origin: str) -> HttpResponse:
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Vary"] = "Origin"
    return response


@csrf_exempt  # cross-site by design: authenticated by the signed visitor id and the origin check
@require_POST
def upload(request: HttpRequest, key: str) -> HttpResponse:
    origin = request.headers.get("Origin", "")
    try:
        widget = chat.get_widget(key)
        if not chat.origin_allowed(widget, origin):
            return JsonResponse(
                {"error": "origin_refused", "message": "Origin not allowed."}, status=403
            )
        visitor = chat.read_visitor_token(request.POST.get("visitor", ""))
        ctx = chat.VisitorContext(widget=widget, visitor_id=visitor)
        session = chat.current_session(ctx)
        if session is None or session.token.hex != request.POST.get("session", ""):
            return _cors(
                JsonResponse({"error": "no_chat", "message": "Start the chat first."}, status=404),
                origin,
            )
        upload = request.FILES.get("file")
        if upload is None:
            return _cors(
                JsonResponse({"error": "no_file", "message": "Choose a file."}, status=422), origin
            )
        # Refuse an oversize file before reading it into memory.
        chat.tickets.check_attachment(upload.name or "file", upload.size or 0)
        message = chat.visitor_upload(
            ctx,
            session,
            filename=upload.name or "file",
            content_type=upload.content_type or "application/octet-stream",
            content=upload.read(),
        )
    except DomainError as exc:
        return _cors(
            JsonResponse({"error": exc.code, "message": exc.message}, status=exc.status), origin
        )
    return _cors(JsonResponse({"id": message.pk}, status=201), origin)


@login_required
def desk(request: HttpRequest) -> HttpResponse:
    """Several chats side by side, the waiting queue, presence."""
    agent: User = request.user  # type: ignore[assignment]
    sessions = chat.active_sessions_for(agent)
    columns = [chat.column(agent, s) for s in sessions]
    context: dict[str, Any] = {
        "columns": columns,
        "waiting": chat.waiting_sessions_for(agent),
        "teams": Team.objects.all(),
        "agents": User.objects.filter(is_active=True).order_by("name"),
        "presence_choices": Presence.choices,
    }
    return render(request, "chat/desk.html", context)


@login_required
def column(request: HttpRequest, token: str) -> HttpResponse:
    """One chat column (fetched when a chat is accepted without a reload)."""
    agent: User = request.user  # type: ignore[assignment]
    try:
        session = chat.access_session(agent, token)
    except DomainError as exc:
        return HttpResponse(exc.message, status=exc.status)
    return render(
        request,
        "chat/_column.html",
        {
            "col": chat.column(agent, session),
            "teams": Team.objects.all(),
            "agents": User.objects.filter(is_active=True).order_by("name"),
        },
    )


@login_required
@require_POST
def transfer(request: HttpRequest, token: str) -> HttpResponse:
    agent: User = request.user  # type: ignore[assignment]
    to_agent = User.objects.filter(pk=request.POST.get("agent") or 0).first()
    to_team = Team.objects.filter(pk=request.POST.get("team") or 0).first()
    try:
        chat.transfer(
            agent, token, to_agent=to_agent, to_team=to_team, note=request.POST.get("note", "")
        )
    except DomainError as exc:
        return JsonResponse({"error": exc.code, "message": exc.message}, status=exc.status)
    return JsonResponse({"ok": True})


@login_required
@require_POST
def presence(request: HttpRequest) -> HttpResponse:
    try:
        chat.set_presence(request.user, request.POST.get("presence", ""))  # type: ignore[arg-type]
    except DomainError as exc:
        return HttpResponse(exc.message, status=exc.status)
    back = request.POST.get("next", "")
    # Only back into the workspace: never an open redirect.
    return redirect(back if back.startswith("/agent/") and "//" not in back else "chat-agent:desk")
