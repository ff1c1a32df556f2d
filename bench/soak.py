"""Soak test: `caredesk serve` (web server, SMTP listener and job worker in one process, as on a
small box) under a steady mixed load on loopback for a bounded time, then checks that nothing
failed, every accepted message is in the database exactly once, and memory stayed flat.

    python bench/soak.py [--minutes 10 --rate 8 --max-rss-growth-mib 64]

The mix, per cycle of 11 operations: 3 tickets created over the API, 2 API replies, 1 inbox page
(a lead's logged-in session), 1 API ticket list, 2 new e-mails and 1 e-mail reply over SMTP (every
24th new e-mail is delivered twice with the same Message-ID; it must be stored once), and 1 live
chat line over the widget's WebSocket (three chats held open). Each accepted
message carries a marker, so the check at the end finds every one of them in the database.
Server memory: VmRSS of the server's process tree from /proc, sampled every 5 s; growth is
measured from the end of the first minute (caches and imports settle) to the end.
Results: a Markdown summary on stdout and bench/out/soak.json (for bench/charts.py); the exit
status is 1 when a check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import smtplib
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    PYTHON,
    REPO,
    agent_session,
    free_port,
    fresh_install,
    machine,
    manage,
    process_tree,
    rss_kib,
    wait_for_port,
    write_json,
)

SUPPORT = "support@bench.test"
SETTLE_SECONDS = 60


@dataclass
class Ledger:
    """What the client sent and what the server accepted, per kind of message."""

    accepted: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    unconfirmed: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    errors: Counter = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    ticket_ids: list[int] = field(default_factory=list)
    mail_threads: list[tuple[str, str, str]] = field(default_factory=list)
    duplicates_sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, operation: str, detail: str) -> None:
        with self.lock:
            self.errors[operation] += 1
            if len(self.error_samples) < 20:
                self.error_samples.append(f"{operation}: {detail}"[:300])


class Load:
    """The operations of the mix. Each takes a sequence number and records into the ledger."""

    def __init__(self, base: str, token: str, session: str, smtp_port: int, ledger: Ledger):
        import httpx

        self.base = base
        self.smtp_port = smtp_port
        self.ledger = ledger
        self.bearer = {"Authorization": f"Bearer {token}"}
        self.cookie = {"Cookie": f"sessionid={session}"}
        self.chat = ChatLines(base, ledger)
        self.http = httpx.Client(
            timeout=30, limits=httpx.Limits(max_connections=8, max_keepalive_connections=8)
        )

    def _request(self, operation: str, method: str, url: str, expect: int, **kwargs):  # type: ignore[no-untyped-def]
        import httpx

        try:
            response = self.http.request(method, self.base + url, **kwargs)
        except httpx.HTTPError as exc:
            self.ledger.error(operation, f"{type(exc).__name__}: {exc}")
            return None, True
        if response.status_code != expect:
            self.ledger.error(operation, f"HTTP {response.status_code}: {response.text[:200]}")
            return None, False
        return response, False

    def api_create(self, n: int) -> None:
        response, unsure = self._request(
            "api create",
            "POST",
            "/api/v1/tickets",
            201,
            headers=self.bearer,
            json={
                "subject": f"Soak ticket {n}",
                "requester": {"email": f"soak{n % 300}@example.test", "name": "Soak"},
                "message": {"body": f"My order arrived damaged. [soak-create-{n}]"},
            },
        )
        with self.ledger.lock:
            if response is not None:
                self.ledger.accepted["create"].add(n)
                self.ledger.ticket_ids.append(response.json()["id"])
            elif unsure:
                self.ledger.unconfirmed["create"].add(n)

    def api_reply(self, n: int) -> None:
        with self.ledger.lock:
            ids = self.ledger.ticket_ids
            ticket_id = ids[(n * 7919) % len(ids)] if ids else None
        if ticket_id is None:
            return self.api_create(n)
        response, unsure = self._request(
            "api reply",
            "POST",
            f"/api/v1/tickets/{ticket_id}/messages",
            201,
            headers=self.bearer,
            json={"body": f"We are sending a replacement today. [soak-reply-{n}]"},
        )
        with self.ledger.lock:
            if response is not None:
                self.ledger.accepted["reply"].add(n)
            elif unsure:
                self.ledger.unconfirmed["reply"].add(n)
        return None

    def inbox_page(self, n: int) -> None:
        self._request("inbox page", "GET", "/agent/?view=team", 200, headers=self.cookie)

    def api_list(self, n: int) -> None:
        self._request(
            "api list", "GET", "/api/v1/tickets?limit=25&status=open", 200, headers=self.bearer
        )

    def _send(self, operation: str, n: int, message: EmailMessage, *, twice: bool) -> None:
        payload = message.as_bytes(policy=policy.SMTP)
        try:
            with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=60) as smtp:
                smtp.sendmail(str(message["From"]), [SUPPORT], payload)
                if twice:
                    smtp.sendmail(str(message["From"]), [SUPPORT], payload)
        except (smtplib.SMTPException, OSError) as exc:
            self.ledger.error(operation, f"{type(exc).__name__}: {exc}")
            with self.ledger.lock:
                # A failure after DATA was sent may still have committed: neither lost nor counted.
                self.ledger.unconfirmed["mail"].add(n)
            return
        with self.ledger.lock:
            self.ledger.accepted["mail"].add(n)
            self.ledger.duplicates_sent += int(twice)
            self.ledger.mail_threads.append(
                (str(message["From"]), str(message["Subject"]), str(message["Message-ID"]))
            )

    def email_new(self, n: int) -> None:
        message = EmailMessage()
        message["From"] = f"mailer{n % 200}@example.test"
        message["To"] = SUPPORT
        message["Subject"] = f"Parcel {n} never arrived"
        message["Message-ID"] = make_msgid(domain="example.test")
        message.set_content(f"Hello,\n\nmy parcel never arrived.\n\n[soak-mail-{n}]\n")
        self._send("email new", n, message, twice=n % 120 == 1)

    def email_reply(self, n: int) -> None:
        with self.ledger.lock:
            threads = self.ledger.mail_threads
            earlier = threads[(n * 7919) % len(threads)] if threads else None
        if earlier is None:
            return self.email_new(n)
        sender, subject, message_id = earlier
        message = EmailMessage()
        message["From"] = sender
        message["To"] = SUPPORT
        message["Subject"] = f"Re: {subject}"
        message["Message-ID"] = make_msgid(domain="example.test")
        message["In-Reply-To"] = message_id
        message["References"] = message_id
        message.set_content(f"Any news?\n\n[soak-mail-{n}]\n")
        self._send("email reply", n, message, twice=False)
        return None


class ChatLines:
    """A few live chats held open over the widget's real WebSocket protocol. Each operation sends
    one line (the first one starts the chat) and waits for the server's ack, which comes after the
    commit; a line is accepted when acked."""

    def __init__(self, base: str, ledger: Ledger, chats: int = 3) -> None:
        self.url = base.replace("http://", "ws://", 1) + f"/ws/chat/{CHAT_WIDGET}/"
        self.origin = base
        self.ledger = ledger
        self.sockets: dict[int, object] = {}
        self.locks = [threading.Lock() for _ in range(chats)]
        self.stack = contextlib.ExitStack()

    def line(self, n: int) -> None:
        import websockets
        from websockets.sync.client import connect

        slot = n % len(self.locks)
        with self.locks[slot]:
            ws = self.sockets.get(slot)
            frame = {"client_id": f"s{n}", "text": f"Is anyone there? [soak-chat-{n}]"}
            try:
                if ws is None:
                    ws = self.stack.enter_context(
                        connect(self.url, origin=self.origin, open_timeout=30)  # type: ignore[arg-type]
                    )
                    json.loads(ws.recv(timeout=30))  # hello
                    self.sockets[slot] = ws
                    frame.update(type="start", name=f"Soak visitor {slot}")
                else:
                    frame["type"] = "message"
                ws.send(json.dumps(frame))  # type: ignore[attr-defined]
                deadline = time.time() + 30
                while True:
                    answer = json.loads(ws.recv(timeout=max(deadline - time.time(), 0.1)))  # type: ignore[attr-defined]
                    if answer.get("client_id") == frame["client_id"] and answer["type"] in (
                        "ack",
                        "error",
                    ):
                        break
            except (OSError, TimeoutError, websockets.WebSocketException) as exc:
                self.sockets.pop(slot, None)
                self.ledger.error("chat line", f"{type(exc).__name__}: {exc}")
                with self.ledger.lock:
                    self.ledger.unconfirmed["chat"].add(n)
                return
            with self.ledger.lock:
                if answer["type"] == "ack":
                    self.ledger.accepted["chat"].add(n)
                else:
                    self.ledger.errors["chat line"] += 1
                    self.ledger.error_samples.append(f"chat line: {answer}"[:300])

    def close(self) -> None:
        self.stack.close()


CHAT_WIDGET = "soak"


def chat_operations(load: Load) -> list[tuple[str, Callable[[int], None]]]:
    """Live chat in the mix: one chat line per cycle, on three chats held open."""
    return [("chat line", load.chat.line)]


MARKER_KINDS = ("create", "reply", "mail", "chat")


def mix(load: Load) -> list[tuple[str, Callable[[int], None]]]:
    return [
        ("api create", load.api_create),
        ("email new", load.email_new),
        ("api reply", load.api_reply),
        ("inbox page", load.inbox_page),
        ("api create", load.api_create),
        ("email reply", load.email_reply),
        ("api list", load.api_list),
        ("api reply", load.api_reply),
        ("email new", load.email_new),
        ("api create", load.api_create),
        *chat_operations(load),
    ]


def stored_markers(env: dict[str, str]) -> dict:
    """Markers found in stored messages, and the raw inbound e-mail by state."""
    script = (
        "import json, re; from django.db.models import Count; "
        "from caredesk.tickets.models import Message, RawInbound; "
        "pattern = re.compile(r'\\[soak-(\\w+)-(\\d+)\\]'); found = {}; "
        "[found.setdefault(m.group(1), []).append(int(m.group(2))) "
        " for body in Message.objects.filter(body_text__contains='[soak-').values_list('body_text', flat=True).iterator() "
        " for m in pattern.finditer(body)]; "
        "states = dict(RawInbound.objects.values_list('state').annotate(n=Count('id')).values_list('state', 'n')); "
        "print(json.dumps({'found': found, 'raw_states': states}))"
    )
    return json.loads(manage(env, "shell", "-c", script).strip().splitlines()[-1])


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    data = sorted(values)
    return data[min(len(data) - 1, int(round(p / 100 * (len(data) - 1))))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, default=8, help="operations per second")
    parser.add_argument("--seed-tickets", type=int, default=2000)
    parser.add_argument("--max-rss-growth-mib", type=float, default=64)
    parser.add_argument("--out", default="soak")
    parser.add_argument(
        "--database-url", default="", help="an empty PostgreSQL database (default: SQLite)"
    )
    parser.add_argument(
        "--redis-url", default="", help="Redis for the channel layer, the job queue and the cache"
    )
    args = parser.parse_args()

    extra = {"DATABASE_URL": args.database_url} if args.database_url else {}
    if args.redis_url:
        extra["REDIS_URL"] = args.redis_url
    env, token = fresh_install(
        CAREDESK_EMAIL_SENDER_RATE="1000000",
        CAREDESK_EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        **extra,
    )
    subprocess.run(
        [PYTHON, str(REPO / "bench" / "generate.py"), "--tickets", str(args.seed_tickets)]
        + ["--customers", str(max(1, args.seed_tickets // 2)), "--agents", "50"],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
    )
    manage(
        env,
        "shell",
        "-c",
        "from caredesk.channels.email.models import Mailbox; "
        f"Mailbox.objects.get_or_create(address='{SUPPORT}', defaults={{'auto_acknowledge': False}}); "
        "from caredesk.channels.chat.models import ChatWidget; "
        f"ChatWidget.objects.get_or_create(key='{CHAT_WIDGET}', defaults={{'name': 'Soak', 'require_email': False}})",
    )
    session = agent_session(env, "agent0@bench.test", all_teams=True)
    port, smtp_port = free_port(), free_port()
    env["CAREDESK_SMTP_PORT"] = str(smtp_port)
    server = subprocess.Popen(
        [PYTHON, "-m", "caredesk", "serve", "--no-demo", "--port", str(port)]
        + ["--log-level", "warning"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    ledger = Ledger()
    samples: list[tuple[float, int]] = []
    stop = threading.Event()
    started = time.time()
    try:
        wait_for_port(server, port, "caredesk serve")
        wait_for_port(server, smtp_port, "caredesk SMTP listener")

        def sample() -> None:
            while not stop.is_set():
                rss = sum(rss_kib(pid) for pid in process_tree(server.pid))
                samples.append((round(time.time() - started, 1), rss))
                stop.wait(5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        load = Load(f"http://127.0.0.1:{port}", token, session, smtp_port, ledger)
        operations = mix(load)
        counts: Counter = Counter()
        late = 0
        max_backlog = 0
        pending: list = []

        def timed(name: str, operation: Callable[[int], None], n: int) -> None:
            t = time.perf_counter()
            try:
                operation(n)
            except Exception as exc:  # a bug in the client must not end the soak silently
                ledger.error(name, f"client {type(exc).__name__}: {exc}")
            with ledger.lock:
                ledger.latencies[name].append(time.perf_counter() - t)

        with ThreadPoolExecutor(max_workers=8) as pool:
            load_started = time.time()
            deadline = load_started + args.minutes * 60
            n = 0
            while True:
                due = load_started + n / args.rate
                if due >= deadline:
                    break
                delay = due - time.time()
                if delay > 0:
                    time.sleep(delay)
                elif delay < -1:
                    late += 1
                name, operation = operations[n % len(operations)]
                pending = [f for f in pending if not f.done()]
                max_backlog = max(max_backlog, len(pending))
                pending.append(pool.submit(timed, name, operation, n))
                counts[name] += 1
                n += 1
        load_seconds = time.time() - load_started
        load.chat.close()
        time.sleep(2)
        stop.set()
        sampler.join()
        alive = server.poll() is None
    finally:
        stop.set()
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    stored = stored_markers(env)
    accounting = {}
    for kind in MARKER_KINDS:
        found = Counter(stored["found"].get(kind, []))
        accepted = ledger.accepted[kind]
        accounting[kind] = {
            "accepted": len(accepted),
            "stored": sum(found.values()),
            "missing": sorted(accepted - set(found))[:20],
            "stored_twice": sorted(k for k, v in found.items() if v > 1)[:20],
            "stored_not_accepted": sorted(set(found) - accepted - ledger.unconfirmed[kind])[:20],
            "unconfirmed": len(ledger.unconfirmed[kind]),
        }
    settled = [rss for t, rss in samples if t >= SETTLE_SECONDS] or [rss for _, rss in samples]
    growth_mib = (settled[-1] - settled[0]) / 1024 if settled else float("nan")
    checks = {
        "server still running at the end": alive,
        "no errors": sum(ledger.errors.values()) == 0,
        "every accepted message stored exactly once": all(
            not a["missing"] and not a["stored_twice"] and not a["stored_not_accepted"]
            for a in accounting.values()
        ),
        f"RSS growth after the first minute ≤ {args.max_rss_growth_mib:g} MiB": growth_mib
        <= args.max_rss_growth_mib,
        "kept the rate (no operation started > 1 s late)": late == 0,
    }
    summary = {
        "date": str(datetime.date.today()),
        "machine": machine(),
        "minutes": round(load_seconds / 60, 2),
        "rate": args.rate,
        "operations": sum(counts.values()),
        "max_backlog": max_backlog,
        "late": late,
        "per_operation": {
            name: {
                "count": counts[name],
                "errors": ledger.errors[name],
                "p50_ms": round(pct(ledger.latencies[name], 50), 1),
                "p95_ms": round(pct(ledger.latencies[name], 95), 1),
                "p99_ms": round(pct(ledger.latencies[name], 99), 1),
            }
            for name in counts
        },
        "duplicate_deliveries_sent": ledger.duplicates_sent,
        "accounting": accounting,
        "raw_inbound_states": stored["raw_states"],
        "rss_kib": samples,
        "rss_growth_mib": round(growth_mib, 1),
        "rss_max_mib": round(max(r for _, r in samples) / 1024, 1) if samples else None,
        "error_samples": ledger.error_samples,
        "checks": checks,
    }
    path = write_json(args.out, summary)
    store = "PostgreSQL" if args.database_url else "SQLite"
    if args.redis_url:
        store += " + Redis"

    print(
        f"# Soak — {summary['minutes']} min at {args.rate:g} operations/s — caredesk serve "
        f"(1 process: web, SMTP listener, job worker), {store} — {machine()} — {datetime.date.today()}"
    )
    print("| operation | count | errors | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|---|---|")
    for name, row in summary["per_operation"].items():
        print(
            f"| {name} | {row['count']} | {row['errors']} | {row['p50_ms']} | {row['p95_ms']} | {row['p99_ms']} |"
        )
    print("\n| messages | accepted | stored | missing | stored twice | unconfirmed |")
    print("|---|---|---|---|---|---|")
    for kind, a in accounting.items():
        print(
            f"| {kind} | {a['accepted']} | {a['stored']} | {len(a['missing'])} | "
            f"{len(a['stored_twice'])} | {a['unconfirmed']} |"
        )
    print(
        f"\nduplicate e-mail deliveries sent: {ledger.duplicates_sent}; raw inbound by state: "
        f"{stored['raw_states']}; max backlog {max_backlog}, late starts {late}"
    )
    print(
        f"server RSS: {settled[0] / 1024:.0f} MiB after the first minute → {settled[-1] / 1024:.0f} MiB "
        f"at the end (growth {growth_mib:+.1f} MiB, max {summary['rss_max_mib']} MiB)"
        if settled
        else "server RSS: no samples"
    )
    for sample_error in ledger.error_samples:
        print(f"  error: {sample_error}")
    for check, ok in checks.items():
        print(f"- [{'x' if ok else ' '}] {check}")
    print(f"\n(results in {path.relative_to(REPO)})", file=sys.stderr)
    sys.exit(0 if all(checks.values()) else 1)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
