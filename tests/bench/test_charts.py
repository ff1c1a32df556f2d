"""bench/charts.py draws valid SVG whose bars and lines follow the benchmark figures."""

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import charts  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"


def _run(system, scenario, clients, p95, throughput=0.0):
    return {
        "system": system,
        "scenario": scenario,
        "clients": clients,
        "p95_ms": p95,
        "throughput": throughput,
    }


COMPARE = {
    "date": "2026-11-25",
    "machine": "x86_64, 2 cores",
    "tickets": 10_000,
    "results": [
        _run("caredesk", "list: API 25 open", 1, 50.0),
        _run("caredesk", "list: inbox first page (HTML)", 1, 100.0),
        _run("django-helpdesk", "list: datatables 25 open", 1, 1000.0),
        _run("caredesk", "search: common term", 1, 80.0),
        _run("django-helpdesk", "search: common term", 1, 900.0),
        _run("caredesk", "search: rare term", 1, 20.0),
        _run("django-helpdesk", "search: rare term", 1, 200.0),
        _run("caredesk", "create", 1, 0, 40.0),
        _run("django-helpdesk", "create", 1, 0, 20.0),
        _run("caredesk", "create", 8, 0, 60.0),
        _run("django-helpdesk", "create", 8, 0, 15.0),
        _run("limit", "bare ASGI", 8, 0, 800.0),
    ],
}


def _bars(svg: str) -> dict[str, float]:
    root = ET.fromstring(svg)
    return {
        rect.find(f"{SVG}title").text: float(rect.get("width"))
        for rect in root.iter(f"{SVG}rect")
        if rect.find(f"{SVG}title") is not None
    }


def test_bar_lengths_are_proportional_to_the_values():
    svg = charts.compare_charts(COMPARE)["compare-reads-p95.svg"]
    bars = _bars(svg)
    assert bars["caredesk: 50.0 ms"] * 20 == pytest.approx(
        bars["django-helpdesk: 1,000.0 ms"], abs=1
    )
    assert bars["django-helpdesk: 200.0 ms"] == pytest.approx(
        2 * bars["caredesk: 100.0 ms"], abs=0.2
    )


def test_creation_chart_has_both_systems_and_the_limit():
    svg = charts.compare_charts(COMPARE)["compare-create-throughput.svg"]
    bars = _bars(svg)
    assert bars["caredesk: 60.0 tickets/s"] == pytest.approx(
        4 * bars["django-helpdesk: 15.0 tickets/s"], abs=0.4
    )
    assert "bare ASGI limit on the same server: 800 requests/s" in svg


def test_soak_line_follows_the_samples():
    data = {
        "date": "2026-11-25",
        "machine": "x86_64",
        "minutes": 2,
        "rate": 8,
        "rss_growth_mib": 1.0,
        "rss_kib": [[0, 102400], [60, 102400], [120, 204800]],
    }
    root = ET.fromstring(charts.soak_chart(data)["soak-rss.svg"])
    points = [
        tuple(map(float, p.split(","))) for p in root.find(f"{SVG}polyline").get("points").split()
    ]
    assert len(points) == 3
    assert points[0][1] == points[1][1] > points[2][1]  # flat, then up (SVG y grows downwards)
    assert points[0][0] < points[1][0] < points[2][0]


def test_growth_chart_pairs_the_sizes_per_scenario():
    big = {**COMPARE, "tickets": 100_000}
    big["results"] = [{**r, "p95_ms": r["p95_ms"] * 10} for r in COMPARE["results"]]
    svg = charts.growth_chart([big, COMPARE])["growth-p95.svg"]
    bars = _bars(svg)
    assert bars["100k: 500.0 ms"] == pytest.approx(10 * bars["10k: 50.0 ms"], abs=1)
    assert "from 10k to 100k tickets" in svg
