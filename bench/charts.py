"""SVG charts for docs/benchmarks.md from the JSON results the benchmark scripts write to
bench/out/ (compare*.json, soak.json). Plain SVG written by hand: no plotting library,
nothing loaded from elsewhere.

    python bench/charts.py [--out docs/benchmarks]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from html import escape
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import OUT, REPO  # noqa: E402

COLORS = {"caredesk": "#2563eb", "django-helpdesk": "#d97706", "10k": "#94a3b8", "100k": "#2563eb"}
FONT = 'font-family="system-ui, sans-serif"'


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
            f"<title>{escape(title)}</title>",
            f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
            f'<text x="16" y="24" {FONT} font-size="15" font-weight="600" fill="#111827">{escape(title)}</text>',
            *body,
            "</svg>",
            "",
        ]
    )


def _legend(series: list[str], x: int, y: int) -> list[str]:
    out = []
    for name in series:
        out.append(f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{COLORS[name]}"/>')
        out.append(
            f'<text x="{x + 16}" y="{y}" {FONT} font-size="12" fill="#374151">{escape(name)}</text>'
        )
        x += 24 + 7 * len(name)
    return out


def bar_chart(
    title: str, groups: list[tuple[str, dict[str, float]]], unit: str, note: str = ""
) -> str:
    """Horizontal bars: one group per label, one bar per series, the value printed at its end."""
    series = list(dict.fromkeys(name for _, values in groups for name in values))
    longest = max((len(label) for label, _ in groups), default=10)
    label_width, plot_width, bar, gap = max(230, int(24 + 6.8 * longest)), 420, 16, 14
    top = 60
    notes = note.split("\n") if note else []
    height = top + len(groups) * (len(series) * bar + gap) + 20 + 16 * len(notes)
    width = label_width + plot_width + 110
    largest = max((v for _, values in groups for v in values.values()), default=1) or 1
    body = _legend(series, label_width, 46)
    y = top
    for label, values in groups:
        body.append(
            f'<text x="{label_width - 8}" y="{y + len(series) * bar / 2 + 4}" {FONT} font-size="12" '
            f'text-anchor="end" fill="#111827">{escape(label)}</text>'
        )
        for name in series:
            if name in values:
                value = values[name]
                length = max(1.0, value / largest * plot_width)
                body.append(
                    f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{bar - 3}" '
                    f'fill="{COLORS[name]}"><title>{escape(name)}: {value:,.1f} {unit}</title></rect>'
                )
                body.append(
                    f'<text x="{label_width + length + 5:.1f}" y="{y + bar - 5}" {FONT} font-size="11" '
                    f'fill="#374151">{value:,.1f} {escape(unit)}</text>'
                )
            y += bar
        y += gap
    body.append(
        f'<line x1="{label_width}" y1="{top - 4}" x2="{label_width}" y2="{y - gap + 2}" stroke="#9ca3af"/>'
    )
    for i, line in enumerate(notes):
        body.append(
            f'<text x="16" y="{height - 12 - 16 * (len(notes) - 1 - i)}" {FONT} font-size="11" '
            f'fill="#6b7280">{escape(line)}</text>'
        )
    return _svg(width, height, title, body)


def _step(largest: float) -> float:
    """A round tick step giving about five ticks up to `largest`."""
    raw = largest / 5 or 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)


def line_chart(
    title: str,
    points: list[tuple[float, float]],
    x_unit: str,
    y_unit: str,
    note: str = "",
    marker_x: float | None = None,
) -> str:
    """One line over time; the y axis starts at 0 so that growth is seen at its true size."""
    width, height = 720, 300
    left, right, top, bottom = 60, 20, 44, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    xs = [x for x, _ in points] or [0.0, 1.0]
    ys = [y for _, y in points] or [0.0, 1.0]
    x_max = max(xs) or 1.0
    y_max = max(ys) * 1.15 or 1.0

    def sx(x: float) -> float:
        return left + x / x_max * plot_w

    def sy(y: float) -> float:
        return top + plot_h - y / y_max * plot_h

    body = []
    for i in range(5):
        value = y_max * i / 4
        body.append(
            f'<line x1="{left}" y1="{sy(value):.1f}" x2="{width - right}" y2="{sy(value):.1f}" stroke="#e5e7eb"/>'
        )
        body.append(
            f'<text x="{left - 6}" y="{sy(value) + 4:.1f}" {FONT} font-size="11" text-anchor="end" '
            f'fill="#6b7280">{value:,.0f}</text>'
        )
    step = _step(x_max)
    for i in range(int(x_max / step) + 1):
        value = step * i
        body.append(
            f'<text x="{sx(value):.1f}" y="{top + plot_h + 16}" {FONT} font-size="11" text-anchor="middle" '
            f'fill="#6b7280">{value:g}</text>'
        )
    body.append(
        f'<text x="{left + plot_w / 2}" y="{top + plot_h + 32}" {FONT} font-size="11" text-anchor="middle" '
        f'fill="#374151">{escape(x_unit)}</text>'
    )
    body.append(
        f'<text x="14" y="{top + plot_h / 2}" {FONT} font-size="11" fill="#374151" '
        f'transform="rotate(-90 14 {top + plot_h / 2})" text-anchor="middle">{escape(y_unit)}</text>'
    )
    if marker_x is not None:
        body.append(
            f'<line x1="{sx(marker_x):.1f}" y1="{top}" x2="{sx(marker_x):.1f}" y2="{top + plot_h}" '
            'stroke="#9ca3af" stroke-dasharray="4 3"/>'
        )
    path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
    body.append(
        f'<polyline points="{path}" fill="none" stroke="{COLORS["caredesk"]}" stroke-width="2"/>'
    )
    if note:
        body.append(
            f'<text x="16" y="{height - 6}" {FONT} font-size="11" fill="#6b7280">{escape(note)}</text>'
        )
    return _svg(width, height, title, body)


def compare_charts(data: dict) -> dict[str, str]:
    results = data["results"]

    def value(system: str, scenario: str, key: str, clients: int = 1) -> float:
        return next(
            r[key]
            for r in results
            if r["system"] == system and r["scenario"] == scenario and r["clients"] == clients
        )

    note = (
        f"{data['tickets']:,} tickets, one run, {data['date']}; {data['machine']}; "
        "client on the same machine"
    )
    peer_list = value("django-helpdesk", "list: datatables 25 open", "p95_ms")
    reads = [
        (
            "ticket list, 25 rows (JSON)",
            {
                "caredesk": value("caredesk", "list: API 25 open", "p95_ms"),
                "django-helpdesk": peer_list,
            },
        ),
        (
            "inbox page (HTML) vs peer list",
            {
                "caredesk": value("caredesk", "list: inbox first page (HTML)", "p95_ms"),
                "django-helpdesk": peer_list,
            },
        ),
    ] + [
        (
            label,
            {
                "caredesk": value("caredesk", scenario, "p95_ms"),
                "django-helpdesk": value("django-helpdesk", scenario, "p95_ms"),
            },
        )
        for label, scenario in (
            ("search, common term", "search: common term"),
            ("search, rare term", "search: rare term"),
        )
    ]
    creates = [
        (
            f"create ticket, {clients} client{'s' if clients > 1 else ''}",
            {
                "caredesk": value("caredesk", "create", "throughput", clients),
                "django-helpdesk": value("django-helpdesk", "create", "throughput", clients),
            },
        )
        for clients in (1, 8)
    ]
    limit = max(r["throughput"] for r in results if r["system"] == "limit")
    return {
        "compare-reads-p95.svg": bar_chart(
            "Ticket list and search: p95 latency, lower is better", reads, "ms", note
        ),
        "compare-create-throughput.svg": bar_chart(
            "Ticket creation over HTTP: throughput, higher is better",
            creates,
            "tickets/s",
            f"bare ASGI limit on the same server: {limit:,.0f} requests/s\n{note}",
        ),
    }


def soak_chart(data: dict) -> dict[str, str]:
    points = [(t / 60, kib / 1024) for t, kib in data["rss_kib"]]
    return {
        "soak-rss.svg": line_chart(
            f"Soak: caredesk serve memory (VmRSS) over {data['minutes']:g} minutes at "
            f"{data['rate']:g} operations/s",
            points,
            "minutes",
            "MiB",
            f"growth after the first minute (dashed): {data['rss_growth_mib']:+.1f} MiB; "
            f"{data['date']}; {data['machine']}",
            marker_x=1.0,
        )
    }


def growth_chart(runs: list[dict]) -> dict[str, str]:
    """p95 of every read scenario at each data size (one compare.py run per size)."""
    runs = sorted(runs, key=lambda run: run["tickets"])
    sizes = [f"{run['tickets'] // 1000}k" for run in runs]
    groups: dict[str, dict[str, float]] = {}
    for size, run in zip(sizes, runs, strict=True):
        for r in run["results"]:
            if r["system"] in ("caredesk", "django-helpdesk") and r["scenario"] != "create":
                groups.setdefault(f"{r['system']}: {r['scenario']}", {})[size] = r["p95_ms"]
    for size in sizes:
        COLORS.setdefault(size, "#64748b")
    return {
        "growth-p95.svg": bar_chart(
            f"Ticket list and search from {sizes[0]} to {sizes[-1]} tickets: p95 latency",
            list(groups.items()),
            "ms",
            f"{runs[-1]['date']}; {runs[-1]['machine']}",
        )
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(REPO / "docs" / "benchmarks"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in (("compare", compare_charts), ("soak", soak_chart)):
        source = OUT / f"{name}.json"
        if not source.exists():
            print(f"skipped: no {source.relative_to(REPO)}", file=sys.stderr)
            continue
        for filename, svg in make(json.loads(source.read_text())).items():
            (out / filename).write_text(svg)
            written.append(filename)
    # Growth: the default compare run plus the larger ones (compare.py --reads-only --tickets N
    # --out compare-<N>).
    runs = [json.loads(path.read_text()) for path in sorted(OUT.glob("compare*.json"))]
    runs = list({run["tickets"]: run for run in runs}.values())
    if len(runs) > 1:
        for filename, svg in growth_chart(runs).items():
            (out / filename).write_text(svg)
            written.append(filename)
    print("wrote " + ", ".join(written) if written else "nothing to draw")


if __name__ == "__main__":
    main()
