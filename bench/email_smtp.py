"""Inbound email throughput: real SMTP into caredesk (8 connections, DATA to committed ticket),
the in-process parse+thread+store rate, and a no-op aiosmtpd handler as the limit, in one run.

    python bench/email_smtp.py [--messages 2000]   (DATABASE_URL=postgresql://... for PostgreSQL)
    python bench/email_smtp.py --data-dir /tmp/cd100k   (into an instance made by generate.py)
    python bench/email_smtp.py --replies   (then a reply to each message, threaded by In-Reply-To)
"""

from __future__ import annotations

import argparse
import datetime
import os
import smtplib
import subprocess
import sys
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PYTHON, REPO, env_for, free_port, fresh_install, machine, manage  # noqa: E402

SUPPORT = "support@bench.test"


def message(i: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"sender{i % 300}@example.test"
    msg["To"] = SUPPORT
    msg["Subject"] = f"Order {i} arrived damaged"
    msg["Message-ID"] = f"<bench-{i}-{time.time_ns()}@example.test>"
    msg.set_content(
        "Hello,\n\nmy order arrived damaged. Can you send a replacement?\n\nThanks\n" * 3
    )
    return msg.as_bytes(policy=policy.SMTP)


def reply(original: bytes, i: int) -> bytes:
    """The customer's answer to an earlier message of theirs: threaded by In-Reply-To."""
    parent = message_from_bytes(original, policy=policy.default)
    msg = EmailMessage()
    msg["From"] = parent["From"]
    msg["To"] = SUPPORT
    msg["Subject"] = "Re: " + str(parent["Subject"])
    msg["Message-ID"] = f"<bench-reply-{i}-{time.time_ns()}@example.test>"
    msg["In-Reply-To"] = parent["Message-ID"]
    msg["References"] = parent["Message-ID"]
    msg.set_content("Any news on this?\n\n> my order arrived damaged.\n")
    return msg.as_bytes(policy=policy.SMTP)


def blast(
    port: int, total: int, connections: int, payloads: list[bytes] | None = None
) -> tuple[float, int]:
    payloads = payloads or [message(i) for i in range(total)]
    errors = 0
    lock = threading.Lock()
    index = iter(range(total))

    def worker() -> None:
        nonlocal errors
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
            for i in index:
                try:
                    client.sendmail(f"sender{i % 300}@example.test", [SUPPORT], payloads[i])
                except smtplib.SMTPException:
                    with lock:
                        errors += 1

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, errors


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process and of its running children (the listener's
    other processes with --processes), from Linux /proc."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def noop_server(port: int):  # type: ignore[no-untyped-def]
    from aiosmtpd.controller import Controller

    class Noop:
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            return "250 OK"

    controller = Controller(Noop(), hostname="127.0.0.1", port=port)
    controller.start()
    return controller


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--processes", type=int, default=1, help="listener processes sharing the port"
    )
    parser.add_argument(
        "--replies",
        action="store_true",
        help="then send a reply to each of those messages (threaded onto its ticket)",
    )
    parser.add_argument(
        "--data-dir",
        default="",
        help="an existing instance (bench/generate.py) instead of a fresh one: mail arrives "
        "beside its tickets and messages",
    )
    args = parser.parse_args()
    extra = {
        "CAREDESK_EMAIL_SENDER_RATE": "1000000",
        "CAREDESK_SMTP_PROCESSES": str(args.processes),
    }
    if os.environ.get("DATABASE_URL"):
        extra["DATABASE_URL"] = os.environ["DATABASE_URL"]
    if args.data_dir:
        env = env_for(Path(args.data_dir), **extra)
        manage(env, "migrate", "-v", "0")
    else:
        env, _ = fresh_install(**extra)
    if os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = os.environ["DATABASE_URL"]
    manage(
        env,
        "shell",
        "-c",
        f"from caredesk.channels.email.models import Mailbox; Mailbox.objects.get_or_create(address='{SUPPORT}', defaults={{'auto_acknowledge': False}})",
    )
    rows = []
    port = free_port()
    server = subprocess.Popen(
        [PYTHON, "-m", "caredesk", "smtpd", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    server.stdout.readline()
    try:
        blast(port, 100, args.connections)  # warm-up (every listener process, with --processes)
        cpu_before = cpu_seconds(server.pid)
        originals = [message(i) for i in range(args.messages)]
        seconds, errors = blast(port, args.messages, args.connections, originals)
        server_cpu = cpu_seconds(server.pid) - cpu_before
        listener = " (listener" + (
            f", {args.processes} processes)" if args.processes > 1 else " process)"
        )
        rows.append(
            (
                "caredesk over SMTP (DATA → committed ticket)",
                args.messages,
                errors,
                args.messages / seconds,
                f"{server_cpu / args.messages * 1000:.1f}{listener}",
            )
        )
        if args.replies:
            replies = [reply(original, i) for i, original in enumerate(originals)]
            cpu_before = cpu_seconds(server.pid)
            seconds, errors = blast(port, args.messages, args.connections, replies)
            server_cpu = cpu_seconds(server.pid) - cpu_before
            rows.append(
                (
                    "caredesk over SMTP, replies to those tickets",
                    args.messages,
                    errors,
                    args.messages / seconds,
                    f"{server_cpu / args.messages * 1000:.1f}{listener}",
                )
            )
    finally:
        server.terminate()
        server.wait()
    inproc = subprocess.run(
        [
            PYTHON,
            "-c",
            (
                "import os, time, django; django.setup();"
                "from caredesk.channels.email.services import receive;"
                "import sys; sys.path.insert(0, 'bench'); from email_smtp import message;"
                f"n = {min(args.messages, 1000)}; msgs = [message(i + 10**6) for i in range(n)];"
                "t = time.perf_counter(); c = time.process_time();"
                "[receive(m, recipients=['support@bench.test']) for m in msgs];"
                "print(n / (time.perf_counter() - t), (time.process_time() - c) / n * 1000)"
            ),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    rate, cpu_ms = inproc.stdout.strip().splitlines()[-1].split()
    rows.append(
        (
            "in-process parse + thread + store",
            min(args.messages, 1000),
            0,
            float(rate),
            f"{float(cpu_ms):.1f}",
        )
    )
    noop_port = free_port()
    controller = noop_server(noop_port)
    try:
        seconds, errors = blast(noop_port, args.messages, args.connections)
        rows.append(
            ("limit: aiosmtpd no-op handler", args.messages, errors, args.messages / seconds, "")
        )
    finally:
        controller.stop()
    vendor = "PostgreSQL" if os.environ.get("DATABASE_URL") else "SQLite"
    print(
        f"# Inbound email — {vendor} — {args.connections} connections — {machine()} — {datetime.date.today()}"
    )
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| path | messages | errors | messages/s | CPU ms/message |\n|---|---|---|---|---|")
    for name, count, errors, rate, cpu in rows:
        print(f"| {name} | {count} | {errors} | {rate:,.0f} | {cpu} |")


if __name__ == "__main__":
    main()
