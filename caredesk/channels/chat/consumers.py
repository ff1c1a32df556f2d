"""WebSocket consumers: the visitor's widget (/ws/chat/<widget key>/) and the agent workspace
(/ws/agent/). They parse frames and call services; nothing a client sends may crash them: bad
frames get an {"type": "error"} answer and the connection stays up.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from caredesk.channels.chat import services as chat
from caredesk.channels.chat.models import ChatSession, ChatStatus
from caredesk.channels.chat.writer import line_writer
from caredesk.core import realtime
from caredesk.core.errors import DomainError
from caredesk.tickets.access import Viewer, viewer_groups

logger = logging.getLogger("caredesk.chat")

MAX_FRAME_BYTES = 32_768
CLOSE_FORBIDDEN = 4403
CLOSE_UNAUTHENTICATED = 4401
PRESENCE_HEARTBEAT_SECONDS = 30


def _client_gone_errors() -> tuple[type[BaseException], ...]:
    """What sending to a browser that has just left raises (a tab closed, a page navigated away
    while its last frame was being answered): an ordinary event, not a server error."""
    errors: list[type[BaseException]] = []
    try:
        from uvicorn.protocols.utils import ClientDisconnected

        errors.append(ClientDisconnected)
    except ImportError:  # another ASGI server
        pass
    try:
        from websockets.exceptions import ConnectionClosed

        errors.append(ConnectionClosed)
    except ImportError:
        pass
    return tuple(errors)


CLIENT_GONE = _client_gone_errors()


class JsonConsumer(AsyncWebsocketConsumer):
    """Shared frame handling: size limit, JSON parsing, dispatch to `do_<type>`, clear errors."""

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        realtime.attach_to_running_loop()
        await super().websocket_connect(message)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its `aclose_old_connections()` before every handler: a hop
        to the sync thread for each frame and each relayed event, the largest cost of a chat line
        on the event loop. These consumers reach the database only through
        `database_sync_to_async`, which closes old connections itself, or the chat line writer."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self.error("Frames are JSON text.", "bad_frame")
            return
        if len(text_data.encode()) > MAX_FRAME_BYTES:
            await self.error("The frame is too large.", "too_large")
            return
        try:
            frame = json.loads(text_data)
        except ValueError:
            await self.error("The frame is not valid JSON.", "bad_json")
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            await self.error('A frame is an object with a "type".', "bad_frame")
            return
        handler = getattr(self, "do_" + frame["type"].replace(".", "_"), None)
        if handler is None or frame["type"].startswith("_"):
            await self.error(f"Unknown frame type {frame['type'][:40]!r}.", "unknown_type")
            return
        try:
            try:
                await handler(frame)
            except DomainError as exc:
                await self.error(exc.message, exc.code, client_id=frame.get("client_id"))
            except CLIENT_GONE:
                raise
            except Exception:
                logger.exception("chat frame %s failed", frame.get("type"))
                await self.error(
                    "Something went wrong; please try again.",
                    "internal",
                    client_id=frame.get("client_id"),
                )
        except CLIENT_GONE:
            logger.debug("chat frame %s: the client left before the answer", frame.get("type"))

    async def send_json(self, payload: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(payload, default=str))

    async def error(self, message: str, code: str, **extra: Any) -> None:
        await self.send_json({"type": "error", "code": code, "message": message, **extra})

    # Group events are forwarded to the browser as they are (type "chat.message" -> "message").
    async def forward(self, event: dict[str, Any]) -> None:
        await self.send_json({**event, "type": event["type"].split(".", 1)[1]})


class VisitorConsumer(JsonConsumer):
    ctx: chat.VisitorContext
    session: ChatSession | None = None

    async def connect(self) -> None:
        key = self.scope["url_route"]["kwargs"]["key"]
        query = {k: v[0] for k, v in parse_qs(self.scope.get("query_string", b"").decode()).items()}
        headers = dict(self.scope.get("headers") or [])
        origin = headers.get(b"origin", b"").decode("latin-1")
        try:
            widget = await database_sync_to_async(chat.get_widget)(key)
        except DomainError:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        if not chat.origin_allowed(widget, origin):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        token = query.get("visitor", "")
        try:
            visitor = chat.read_visitor_token(token) if token else None
            external = ""
            if query.get("user_id") or query.get("user_hash"):
                external = chat.verify_identity(
                    widget, query.get("user_id", ""), query.get("user_hash", "")
                )
        except DomainError:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        if visitor is None:
            token = chat.issue_visitor_token()
            visitor = chat.read_visitor_token(token)
        self.ctx = chat.VisitorContext(widget=widget, visitor_id=visitor, external_user_id=external)
        await self.accept()
        self.session = await database_sync_to_async(chat.current_session)(self.ctx)
        if self.session is not None:
            await self.channel_layer.group_add(self.session.group, self.channel_name)
        await self.send_json(await database_sync_to_async(self._hello)(token))

    def _hello(self, token: str) -> dict[str, Any]:
        widget = self.ctx.widget
        session = self.session
        return {
            "type": "hello",
            "visitor": token,
            "widget": {
                "color": widget.color,
                "greeting": widget.greeting,
                "position": widget.position,
                "ask_name": widget.ask_name,
                "require_email": widget.require_email and not self.ctx.external_user_id,
                "topics": widget.topics,
                "offline_message": widget.offline_message,
            },
            "agents_online": chat.agents_online(widget),
            "session": None
            if session is None
            else {
                "id": session.token.hex,
                "status": session.status,
                "agent": session.agent.name if session.agent else "",
                "agent_read_upto": session.agent_read_upto,
                "messages": chat.public_messages(session),
            },
        }

    async def disconnect(self, code: int) -> None:
        if self.session is not None:
            await self.channel_layer.group_discard(self.session.group, self.channel_name)

    async def do_start(self, frame: dict[str, Any]) -> None:
        session, message = await database_sync_to_async(chat.start_chat)(
            self.ctx,
            text=frame.get("text"),
            client_id=frame.get("client_id"),
            name=frame.get("name", ""),
            email=frame.get("email", ""),
            topic=frame.get("topic", ""),
        )
        if self.session is None or self.session.pk != session.pk:
            self.session = session
            await self.channel_layer.group_add(session.group, self.channel_name)
        await self.send_json(
            {"type": "started", "session": session.token.hex, "status": session.status}
        )
        await self.ack(frame, message.pk)

    async def ack(self, frame: dict[str, Any], message_id: int) -> None:
        await self.send_json({"type": "ack", "client_id": frame.get("client_id"), "id": message_id})

    async def _need_session(self) -> ChatSession:
        if self.session is None:
            raise DomainError("Start the chat first.", "no_chat")
        return self.session

    async def do_message(self, frame: dict[str, Any]) -> None:
        session = await self._need_session()
        line = chat.visitor_line(
            self.ctx, session, text=frame.get("text"), client_id=frame.get("client_id")
        )
        # Stored with the other lines arriving meanwhile; answered after their commit.
        result = await line_writer().submit(line)
        if result.error is not None:
            raise result.error
        assert result.message_id is not None
        await self.ack(frame, result.message_id)

    async def do_resume(self, frame: dict[str, Any]) -> None:
        """After a reconnect: everything stored since the last message id the widget has."""
        session = await self._need_session()
        after = frame.get("after")
        messages = await database_sync_to_async(chat.public_messages)(
            session, after_id=after if isinstance(after, int) else 0
        )
        await self.send_json({"type": "history", "messages": messages})

    async def do_typing(self, frame: dict[str, Any]) -> None:
        session = await self._need_session()
        await database_sync_to_async(chat.typing)(
            session, side="visitor", state=bool(frame.get("state"))
        )

    async def do_read(self, frame: dict[str, Any]) -> None:
        session = await self._need_session()
        await database_sync_to_async(chat.mark_read)(
            session, side="visitor", up_to=frame.get("up_to")
        )

    async def do_transcript(self, frame: dict[str, Any]) -> None:
        session = await self._need_session()
        await database_sync_to_async(chat.request_transcript)(session, frame.get("email"))
        await self.send_json({"type": "transcript_requested"})

    async def do_end(self, frame: dict[str, Any]) -> None:
        session = await self._need_session()
        await database_sync_to_async(chat.end_chat)(session, by="visitor")

    async def do_offline(self, frame: dict[str, Any]) -> None:
        ticket = await database_sync_to_async(chat.offline_request)(
            self.ctx,
            text=frame.get("text"),
            email=frame.get("email"),
            name=frame.get("name", ""),
            client_id=frame.get("client_id"),
        )
        await self.send_json({"type": "offline_received", "ticket": ticket.pk})

    async def chat_message(self, event: dict[str, Any]) -> None:
        await self.forward(event)

    async def chat_typing(self, event: dict[str, Any]) -> None:
        if event.get("side") == "agent":
            await self.forward(event)

    async def chat_read(self, event: dict[str, Any]) -> None:
        if event.get("side") == "agent":
            await self.forward(event)

    async def chat_joined(self, event: dict[str, Any]) -> None:
        await self.forward(event)

    async def chat_transferred(self, event: dict[str, Any]) -> None:
        await self.forward(event)

    async def chat_ended(self, event: dict[str, Any]) -> None:
        if self.session is not None:
            self.session.status = ChatStatus.ENDED
        await self.forward(event)

    async def chat_survey(self, event: dict[str, Any]) -> None:
        """A CSAT survey's rating buttons (caredesk.surveys), shown at the end of the chat."""
        await self.forward(event)


class AgentConsumer(JsonConsumer):
    """One per open workspace tab: chat offers and messages, live inbox, collision detection."""

    groups_joined: set[str]

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.agent = user
        self.groups_joined = set()
        await self.accept()
        self.heartbeat = asyncio.create_task(self._keep_presence())
        groups, chats = await database_sync_to_async(self._initial)()
        for group in groups:
            await self._join(group)
        await self.send_json(
            {"type": "hello", "agent": user.name, "presence": user.presence, "chats": chats}
        )

    def _initial(self) -> tuple[list[str], list[str]]:
        agent = self.agent
        groups = viewer_groups(Viewer.of(agent))
        chats = [s.token.hex for s in chat.active_sessions_for(agent)]
        groups += [f"chat.{c}" for c in chats]
        return groups, chats

    async def _join(self, group: str) -> None:
        if group not in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.add(group)

    async def _keep_presence(self) -> None:
        """While this tab is connected the agent's presence holds (chat.services.lapse_presence)."""
        while True:
            try:
                await database_sync_to_async(chat.presence_heartbeat)(self.agent)
            except Exception:  # a busy or restarting database: try again at the next beat
                logger.exception("presence heartbeat failed")
            await asyncio.sleep(PRESENCE_HEARTBEAT_SECONDS)

    async def disconnect(self, code: int) -> None:
        heartbeat = getattr(self, "heartbeat", None)
        if heartbeat is not None:
            heartbeat.cancel()
            try:
                await database_sync_to_async(chat.workspace_closed)(self.agent)
            except Exception:  # the sweep's full grace period still applies
                logger.exception("presence on disconnect failed")
        for group in getattr(self, "groups_joined", set()):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def do_presence(self, frame: dict[str, Any]) -> None:
        await database_sync_to_async(chat.set_presence)(self.agent, frame.get("state", ""))
        await self.send_json({"type": "presence", "state": self.agent.presence})

    async def do_accept(self, frame: dict[str, Any]) -> None:
        session = await database_sync_to_async(chat.accept)(self.agent, str(frame.get("session")))
        await self._join(session.group)
        await self.send_json({"type": "accepted", "session": session.token.hex})

    async def do_decline(self, frame: dict[str, Any]) -> None:
        await database_sync_to_async(chat.decline)(self.agent, str(frame.get("session")))
        await self.send_json({"type": "declined", "session": str(frame.get("session"))})

    async def do_join(self, frame: dict[str, Any]) -> None:
        """Open a chat column (after a reload or a transfer): only chats of the agent's teams."""
        session = await database_sync_to_async(chat.access_session)(
            self.agent, str(frame.get("session"))
        )
        await self._join(session.group)
        messages = await database_sync_to_async(chat.public_messages)(session)
        await self.send_json(
            {"type": "history", "session": session.token.hex, "messages": messages}
        )

    async def do_message(self, frame: dict[str, Any]) -> None:
        message, _ = await database_sync_to_async(chat.agent_message)(
            self.agent,
            str(frame.get("session")),
            text=frame.get("text"),
            client_id=frame.get("client_id"),
        )
        await self.send_json(
            {
                "type": "ack",
                "session": frame.get("session"),
                "client_id": frame.get("client_id"),
                "id": message.pk,
            }
        )

    async def do_typing(self, frame: dict[str, Any]) -> None:
        session = await database_sync_to_async(chat.access_session)(
            self.agent, str(frame.get("session"))
        )
        await database_sync_to_async(chat.typing)(
            session, side="agent", state=bool(frame.get("state")), name=self.agent.name
        )

    async def do_read(self, frame: dict[str, Any]) -> None:
        session = await database_sync_to_async(chat.access_session)(
            self.agent, str(frame.get("session"))
        )
        await database_sync_to_async(chat.mark_read)(
            session, side="agent", up_to=frame.get("up_to")
        )

    async def do_end(self, frame: dict[str, Any]) -> None:
        def end() -> None:
            session = chat.access_session(self.agent, str(frame.get("session")))
            chat.end_chat(session, by="agent", agent=self.agent)

        await database_sync_to_async(end)()

    async def do_watch(self, frame: dict[str, Any]) -> None:
        """Collision detection: this agent views (or types on) a ticket; tell the others live."""
        ticket_id = frame.get("ticket")
        state = frame.get("state", "viewing")
        if not isinstance(ticket_id, int):
            raise DomainError("ticket is a ticket number.", "bad_ticket")
        others = await database_sync_to_async(self._watch)(ticket_id, state)
        await self._join(f"ticket.{ticket_id}")
        await self.channel_layer.group_send(
            f"ticket.{ticket_id}",
            {
                "type": "ticket.presence",
                "ticket": ticket_id,
                "agent_id": self.agent.pk,
                "name": self.agent.name,
                "state": state if state in ("viewing", "typing", "left") else "viewing",
            },
        )
        await self.send_json({"type": "watching", "ticket": ticket_id, "others": others})

    def _watch(self, ticket_id: int, state: str) -> list[dict[str, Any]]:
        from caredesk.agent import services as workspace
        from caredesk.tickets.services import access_ticket

        ticket = access_ticket(self.agent, ticket_id)
        workspace.mark_presence(ticket.pk, self.agent, state)
        return workspace.others_on_ticket(ticket.pk, self.agent)

    # group events
    async def chat_offer(self, event: dict[str, Any]) -> None:
        await self.forward(event)

    async def chat_taken(self, event: dict[str, Any]) -> None:
        await self.forward(event)

    async def chat_message(self, event: dict[str, Any]) -> None:
        await self.forward(event)

    async def chat_typing(self, event: dict[str, Any]) -> None:
        if event.get("side") == "visitor":
            await self.forward(event)

    async def chat_read(self, event: dict[str, Any]) -> None:
        if event.get("side") == "visitor":
            await self.forward(event)

    async def chat_joined(self, event: dict[str, Any]) -> None:
        await self.forward(event)

    async def chat_transferred(self, event: dict[str, Any]) -> None:
        await self.forward(event)

    async def chat_ended(self, event: dict[str, Any]) -> None:
        await self.forward(event)

    async def chat_survey(self, event: dict[str, Any]) -> None:
        """The customer's survey buttons: nothing for the agent's tab to show."""

    async def ticket_changed(self, event: dict[str, Any]) -> None:
        await self.forward(event)

    async def agent_notification(self, event: dict[str, Any]) -> None:
        """A colleague mentioned this agent: the header's bell counts it."""
        await self.forward(event)

    async def ticket_presence(self, event: dict[str, Any]) -> None:
        if event.get("agent_id") != self.agent.pk:
            await self.forward(event)
