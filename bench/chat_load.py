"""Live chat under load: concurrent WebSocket connections held by one server process, and the
customer -> agent delivery latency at a steady message rate.

    python bench/chat_load.py --connections 1000 --chats 100 --rate 500 --seconds 20
    python bench/chat_load.py --connections 5000 ...
    # two server processes over Redis (and PostgreSQL), customers on one, agents on the other:
    python bench/chat_load.py --processes 2 --database-url postgresql://postgres@127.0.0.1/bench_chat \
        --redis-url redis://127.0.0.1:6379/5

Every connection is a widget visitor (hello over the real protocol). `--chats` of them start a
chat, offered to and accepted by agents' workspace sockets; then the chatting visitors send
messages at `--rate` per second in total. Latency is from the visitor's send to the agent's socket
receiving the stored message (so it includes the database commit). Bounded by --seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import websockets  # noqa: E402
from common import env_for, machine, manage, start_server  # noqa: E402

SETUP = """
from importlib import import_module
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from caredesk.accounts.models import Presence, Team, User
from caredesk.channels.chat.models import ChatWidget
team, _ = Team.objects.get_or_create(slug="bench-chat", defaults={"name": "Bench chat"})
ChatWidget.objects.get_or_create(key="bench", defaults={"name": "Bench", "team": team, "require_email": False})
keys = []
for i in range(AGENTS):
    agent, _ = User.objects.get_or_create(email=f"chat{i}@bench.test", defaults={"name": f"Chat agent {i}"})
    agent.presence = Presence.ONLINE
    agent.capacity = 10000
    agent.save()
    agent.teams.add(team)
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(agent.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = agent.get_session_auth_hash()
    store.create()
    keys.append(store.session_key)
print(" ".join(keys))
"""


def rss_kb(pid: int) -> int:
    total = 0
    for p in [pid, *children(pid)]:
        try:
            for line in open(f"/proc/{p}/status"):
                if line.startswith("VmRSS"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in open(f"/proc/{pid}/task/{pid}/children").read().split()]
    except OSError:
        return []


def pct(data: list[float], p: float) -> float:
    if not data:
        return float("nan")
    data = sorted(data)
    return data[min(len(data) - 1, int(round(p / 100 * (len(data) - 1))))] * 1000


async def run(args: argparse.Namespace, ports: list[int], session_keys: list[str]) -> dict:
    agent_port = ports[-1]
    visitor_port = ports[0]
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    errors = {"visitor": 0, "agent": 0}
    delivered = 0
    seen_types: dict[str, int] = {}
    accepted: set[str] = set()
    visitor_types: dict[str, int] = {}

    async def agent_loop(key: str, ready: asyncio.Event) -> None:
        nonlocal delivered
        async with websockets.connect(
            f"ws://127.0.0.1:{agent_port}/ws/agent/",
            origin=f"http://127.0.0.1:{agent_port}",
            additional_headers={"Cookie": f"sessionid={key}"},
            max_queue=None,
            ping_interval=None,  # measure delivery even when the server is too busy to pong
        ) as ws:
            ready.set()
            async for raw in ws:
                frame = json.loads(raw)
                seen_types[frame["type"]] = seen_types.get(frame["type"], 0) + 1
                if frame["type"] == "changed":  # which changes reach the agents' sockets
                    what = "changed:" + ",".join(frame.get("kinds") or [])
                    seen_types[what] = seen_types.get(what, 0) + 1
                if frame["type"] == "offer" and frame.get("offered"):
                    await ws.send(json.dumps({"type": "accept", "session": frame["session"]}))
                elif frame["type"] == "accepted":
                    accepted.add(frame["session"])
                elif frame["type"] == "message" and frame["message"]["from"] == "visitor":
                    started = sent_at.pop(frame["message"]["client_id"], None)
                    if started is not None:
                        latencies.append(time.perf_counter() - started)
                        delivered += 1
                elif frame["type"] == "error":
                    errors["agent"] += 1

    readies = [asyncio.Event() for _ in session_keys]
    agents = [
        asyncio.create_task(agent_loop(k, r)) for k, r in zip(session_keys, readies, strict=True)
    ]
    await asyncio.gather(*(r.wait() for r in readies))

    connections: list = []
    t0 = time.perf_counter()
    batch = 200
    for start in range(0, args.connections, batch):
        opened = await asyncio.gather(
            *(
                websockets.connect(
                    f"ws://127.0.0.1:{visitor_port}/ws/chat/bench/",
                    origin=f"http://127.0.0.1:{visitor_port}",
                    open_timeout=60,
                    max_queue=None,
                    ping_interval=None,
                )
                for _ in range(start, min(start + batch, args.connections))
            ),
            return_exceptions=True,
        )
        for ws in opened:
            if isinstance(ws, Exception):
                errors["visitor"] += 1
            else:
                connections.append(ws)
    for ws in connections:
        json.loads(await ws.recv())  # hello
    connect_seconds = time.perf_counter() - t0

    chatters = connections[: args.chats]
    for i, ws in enumerate(chatters):
        await ws.send(
            json.dumps({"type": "start", "client_id": f"s{i}", "text": "hello", "name": f"V{i}"})
        )

    async def drain(ws) -> None:
        try:
            async for raw in ws:
                frame = json.loads(raw)
                visitor_types[frame["type"]] = visitor_types.get(frame["type"], 0) + 1
                if frame["type"] == "error":
                    errors["visitor"] += 1
        except websockets.ConnectionClosed:
            pass

    drains = [asyncio.create_task(drain(ws)) for ws in chatters]
    # Measure only once every chat is with an agent (an agent joins a chat when accepting it).
    wait_until = time.perf_counter() + 120
    while len(accepted) < len(chatters) and time.perf_counter() < wait_until:
        await asyncio.sleep(0.2)
    interval = 1.0 / args.rate
    sent = 0
    t_start = time.perf_counter()
    deadline = t_start + args.seconds
    next_at = t_start
    while time.perf_counter() < deadline:
        ws = chatters[sent % len(chatters)]
        client_id = f"m{sent}"
        sent_at[client_id] = time.perf_counter()
        await ws.send(
            json.dumps({"type": "message", "client_id": client_id, "text": f"msg {sent}"})
        )
        sent += 1
        next_at += interval
        delay = next_at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    send_seconds = time.perf_counter() - t_start
    settle = time.perf_counter() + 15
    while sent_at and time.perf_counter() < settle:
        await asyncio.sleep(0.2)
    held = sum(1 for ws in connections if ws.state.name == "OPEN")
    for task in [*agents, *drains]:
        task.cancel()
    await asyncio.gather(*(ws.close() for ws in connections), return_exceptions=True)
    return {
        "connections": args.connections,
        "held": held,
        "connect_seconds": connect_seconds,
        "sent": sent,
        "offered_rate": sent / send_seconds,
        "delivered": delivered,
        "chats_accepted": len(accepted),
        "lost_or_late": len(sent_at),
        "errors": errors,
        "agent_frames": seen_types,
        "visitor_frames": visitor_types,
        "p50": pct(latencies, 50),
        "p95": pct(latencies, 95),
        "p99": pct(latencies, 99),
        "mean": statistics.mean(latencies) * 1000 if latencies else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--chats", type=int, default=100)
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--rate", type=float, default=500, help="messages per second, in total")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--redis-url", default="")
    parser.add_argument(
        "--limit",
        action="store_true",
        help="drive bench/chat_limit_asgi.py instead: the same protocol relayed by a bare ASGI app",
    )
    args = parser.parse_args()
    extra = {}
    if args.database_url:
        extra["DATABASE_URL"] = args.database_url
    if args.redis_url:
        extra["REDIS_URL"] = args.redis_url
    if args.processes > 1 and not args.redis_url:
        parser.error("--processes > 1 needs --redis-url (the channel layer spans processes)")
    import tempfile

    env = env_for(Path(tempfile.mkdtemp(prefix="caredesk-chat-bench-")), **extra)
    if args.limit:
        if args.processes > 1:
            parser.error("--limit runs one process (the bare app has no channel layer)")
        keys = [f"limit{i}" for i in range(args.agents)]
        app = "bench.chat_limit_asgi:app"
    else:
        manage(env, "migrate", "-v", "0")
        keys = (
            manage(env, "shell", "-c", SETUP.replace("AGENTS", str(args.agents)))
            .strip()
            .splitlines()[-1]
            .split()
        )
        app = "caredesk.asgi:application"
    servers = [start_server(env, app, workers=1) for _ in range(args.processes)]
    try:
        result = asyncio.run(run(args, [port for _, port in servers], keys))
        result["server_rss_mb"] = sum(rss_kb(p.pid) for p, _ in servers) / 1024
    finally:
        for process, _ in servers:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:  # see docs/benchmarks.md: shutdown with Redis
                process.kill()
                process.wait()
    db = (
        "limit: bare ASGI relay"
        if args.limit
        else ("PostgreSQL" if args.database_url else "SQLite")
    )
    print(f"# {machine()}, {time.strftime('%Y-%m-%d')}, {args.processes} process(es), {db}")
    print(
        "| connections | held | chats accepted | offered msg/s | sent | delivered | not delivered in 15 s | errors | p50 ms | p95 ms | p99 ms | server RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    r = result
    print(
        f"| {r['connections']} | {r['held']} | {r['chats_accepted']}/{args.chats} | {r['offered_rate']:.0f} | {r['sent']} | {r['delivered']} | "
        f"{r['lost_or_late']} | {sum(r['errors'].values())} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} | {r['server_rss_mb']:.0f} |"
    )
    os.makedirs(Path(__file__).resolve().parent / "out", exist_ok=True)
    (
        Path(__file__).resolve().parent
        / "out"
        / f"chat_{'limit_' if args.limit else ''}{args.connections}_{args.processes}.json"
    ).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
