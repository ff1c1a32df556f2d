"""Run the same benchmarks on two checkouts, alternating, in one sitting.

    python bench/interleaved.py --old ../caredesk-old --new . --rounds 2 \
        "bench/ingest_profile.py --n 200" "bench/routing.py --tickets 5000"

Each command runs from each checkout's own directory with that checkout's code (its own copy of
the script), old and new alternating (the order flips every round, so a drift of the machine's
load is shared). The load average is read before and after every run. The outputs and loads go to
bench/out/interleaved-<time>.json and a summary is printed; the figures are read from each
script's own output (every benchmark prints its table).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path


def load() -> float:
    return os.getloadavg()[0]


def run(checkout: Path, command: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    before = load()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *shlex.split(command)],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    return {
        "command": command,
        "checkout": str(checkout),
        "seconds": round(time.perf_counter() - started, 1),
        "load_before": round(before, 2),
        "load_after": round(load(), 2),
        "exit": done.returncode,
        "output": done.stdout[-6000:],
        "errors": done.stderr[-3000:] if done.returncode else "",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--old", required=True, type=Path)
    parser.add_argument("--new", required=True, type=Path)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("commands", nargs="+")
    args = parser.parse_args()
    results = []
    for round_no in range(args.rounds):
        order = [("old", args.old), ("new", args.new)]
        if round_no % 2:
            order.reverse()
        for command in args.commands:
            for label, checkout in order:
                result = {"round": round_no + 1, "label": label, **run(checkout.resolve(), command)}
                results.append(result)
                print(
                    f"## round {result['round']} {label}: {command} "
                    f"(load {result['load_before']} -> {result['load_after']}, "
                    f"{result['seconds']} s, exit {result['exit']})"
                )
                print(result["output"])
                if result["exit"]:
                    print(result["errors"], file=sys.stderr)
    out = Path("bench/out")
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"interleaved-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=1))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
