"""The limit for live chat: a bare ASGI WebSocket app speaking the chat wire protocol, no framework.

`bench/chat_load.py --limit` drives it with the same client as caredesk: visitors connect to
/ws/chat/<key>/ and get a hello, start a chat that is offered to the agents' /ws/agent/ sockets,
an agent accepts, and each visitor message is acknowledged and forwarded to the agent. Nothing
is stored, nothing is checked, there is no channel layer: what is left is uvicorn, the WebSocket
protocol, JSON and this machine, so it shows the fastest any server can relay chat here.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

Send = Any

AGENTS: list[Send] = []
SESSIONS: dict[str, dict[str, Any]] = {}
IDS = itertools.count(1)


async def app(scope: dict[str, Any], receive: Any, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})
        return
    if scope["type"] != "websocket":
        return
    agent = scope["path"].startswith("/ws/agent/")
    session: dict[str, Any] | None = None

    async def frame(payload: dict[str, Any], to: Send = send) -> None:
        await to({"type": "websocket.send", "text": json.dumps(payload)})

    while True:
        message = await receive()
        kind = message["type"]
        if kind == "websocket.connect":
            await send({"type": "websocket.accept"})
            if agent:
                AGENTS.append(send)
            else:
                await frame({"type": "hello", "visitor": "v", "widget": {}, "session": None})
        elif kind == "websocket.disconnect":
            if agent and send in AGENTS:
                AGENTS.remove(send)
            return
        elif kind == "websocket.receive":
            data = json.loads(message.get("text") or "{}")
            if agent and data.get("type") == "accept":
                chat = SESSIONS.get(data["session"])
                if chat is not None:
                    chat["agent"] = send
                    await frame({"type": "accepted", "session": data["session"]})
                    await frame({"type": "joined", "agent": "Agent"}, chat["visitor"])
            elif not agent and data.get("type") == "start":
                token = f"s{next(IDS)}"
                session = {"visitor": send, "agent": None, "token": token}
                SESSIONS[token] = session
                await frame({"type": "started", "session": token, "status": "waiting"})
                await frame({"type": "ack", "client_id": data.get("client_id"), "id": next(IDS)})
                if AGENTS:
                    target = AGENTS[len(SESSIONS) % len(AGENTS)]
                    await frame({"type": "offer", "offered": True, "session": token}, target)
            elif not agent and data.get("type") == "message" and session is not None:
                stored = {
                    "id": next(IDS),
                    "from": "visitor",
                    "client_id": data.get("client_id"),
                    "text": data.get("text"),
                }
                await frame({"type": "ack", "client_id": data.get("client_id"), "id": stored["id"]})
                # As in caredesk, the stored line goes to everyone in the chat, the visitor too.
                await frame({"type": "message", "session": session["token"], "message": stored})
                if session["agent"] is not None:
                    await frame(
                        {"type": "message", "session": session["token"], "message": stored},
                        session["agent"],
                    )
