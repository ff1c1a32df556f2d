"""Search ranks a bounded candidate set per kind: the newest CANDIDATES matches of each kind, so a
word found in most documents costs the same at 10,000 tickets as at a million. These tests prove
the bound and what it keeps (newest tickets, every kind represented, exact ranking below the
bound) on whichever database the suite runs on; no timings."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from caredesk.knowledge import services as kb
from caredesk.search import services
from caredesk.search.services import search
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_bound(monkeypatch):
    monkeypatch.setattr(services, "CANDIDATES", 4)
    return 4


def _tickets(personas, capture, bodies: list[str]) -> list[int]:
    ids = []
    with capture(execute=True):
        for body in bodies:
            ids.append(factories.ticket(team=personas.billing, body=body).pk)
    return ids


def test_a_common_word_ranks_only_the_newest_matches(
    personas, small_bound, django_capture_on_commit_callbacks
):
    # The oldest ticket is the best BM25 match by far, but six newer tickets also mention the
    # word: with a bound of four only the four newest are candidates.
    oldest = _tickets(personas, django_capture_on_commit_callbacks, ["refund " * 40])
    newer = _tickets(
        personas,
        django_capture_on_commit_callbacks,
        [f"order {n} needs a refund" for n in range(6)],
    )
    hits = search("refund", types=("ticket",), agent=personas.alice)
    assert {h.id for h in hits} == set(newer[-small_bound:])
    assert oldest[0] not in {h.id for h in hits}
    assert all("<mark>refund</mark>" in h.snippet for h in hits)


def test_below_the_bound_every_match_is_ranked(
    personas, small_bound, django_capture_on_commit_callbacks
):
    best = _tickets(personas, django_capture_on_commit_callbacks, ["voucher " * 40])
    _tickets(personas, django_capture_on_commit_callbacks, ["a voucher question", "voucher?"])
    hits = search("voucher", types=("ticket",), agent=personas.alice)
    assert len(hits) == 3 and hits[0].id == best[0]


def test_within_the_candidates_relevance_still_orders_the_hits(
    personas, small_bound, django_capture_on_commit_callbacks
):
    ids = _tickets(
        personas,
        django_capture_on_commit_callbacks,
        ["parcel late", "parcel parcel parcel lost parcel", "parcel ok", "where is my parcel"],
    )
    hits = search("parcel", types=("ticket",), agent=personas.alice)
    assert hits[0].id == ids[1]


def test_each_kind_has_its_own_candidates(
    personas, small_bound, django_capture_on_commit_callbacks
):
    # An article written before a flood of tickets is still found: newer tickets never crowd
    # older articles (or customers) out of the candidate set.
    with django_capture_on_commit_callbacks(execute=True):
        article = kb.create_article(
            personas.lead, title="Damaged parcels", body="Photos help.", status="published"
        )
    _tickets(personas, django_capture_on_commit_callbacks, ["damaged box"] * 8)
    hits = search("damaged", agent=personas.alice)
    assert ("article", article.pk) in {(h.type, h.id) for h in hits}
    assert sum(1 for h in hits if h.type == "ticket") == small_bound


def test_public_help_centre_search_filters_after_the_bound(
    personas, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        public = kb.create_article(
            personas.lead, title="Gift wrap", body="We wrap gifts.", status="published"
        )
        kb.create_article(
            personas.lead,
            title="Gift wrap (internal)",
            body="Paper is in the back.",
            visibility="internal",
            status="published",
        )
    assert [h.id for h in search("gift", types=("article",))] == [public.pk]


def test_the_candidate_query_carries_the_bound(
    personas, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(services, "CANDIDATES", 731)
    _tickets(personas, django_capture_on_commit_callbacks, ["invoice copy, two invoices"])
    with CaptureQueriesContext(connection) as queries:
        search("invoice", types=("ticket",), agent=personas.alice)
    sql = [q["sql"] for q in queries.captured_queries]
    if connection.vendor == "sqlite":
        # The word as typed, then (one match leaves room) as a prefix: both bounded.
        candidate_sql = [q for q in sql if "ORDER BY search_fts.rowid DESC" in q]
        assert len(candidate_sql) == 2
        assert all("LIMIT 731" in q for q in candidate_sql)
    else:
        # The probe reads a bounded window of the newest documents; the word is rare here, so
        # the GIN query follows, still capped at the bound.
        probe = [q for q in sql if "id DESC LIMIT 1462" in q]
        assert len(probe) == 1
        # One ticket: the window was not full, so it saw them all and GIN is not asked.
        assert not any("ORDER BY id DESC LIMIT 731" in q for q in sql)


def test_an_old_match_beyond_the_newest_documents_is_still_found(
    personas, monkeypatch, django_capture_on_commit_callbacks
):
    # A rare word only in old documents: the newest-first walk (or PostgreSQL's probe window)
    # does not see it, and the search falls through to every match.
    monkeypatch.setattr(services, "CANDIDATES", 2)
    old = _tickets(personas, django_capture_on_commit_callbacks, ["grandfather clock"])
    _tickets(personas, django_capture_on_commit_callbacks, ["nothing here"] * 25)
    assert [h.id for h in search("grandfather", types=("ticket",), agent=personas.alice)] == old


@pytest.mark.skipif(connection.vendor != "sqlite", reason="FTS5 prefix expansion")
def test_a_complete_common_word_skips_the_prefix_expansion(
    personas, small_bound, django_capture_on_commit_callbacks
):
    _tickets(personas, django_capture_on_commit_callbacks, ["refund please"] * 5)
    with CaptureQueriesContext(connection) as queries:
        hits = search("refund", types=("ticket",), agent=personas.alice)
    assert len(hits) == small_bound
    assert not any('"refund"*' in q["sql"] for q in queries.captured_queries)
    # A partial word still finds the whole one.
    assert len(search("refun", types=("ticket",), agent=personas.alice)) == small_bound


@pytest.mark.skipif(connection.vendor != "sqlite", reason="FTS5 query plan")
def test_sqlite_reads_candidates_off_the_rowid_index_without_sorting_them(
    personas, django_capture_on_commit_callbacks
):
    _tickets(personas, django_capture_on_commit_callbacks, ["invoice copy"])
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN QUERY PLAN SELECT rowid, bm25(search_fts) FROM search_fts "
            "WHERE search_fts MATCH %s ORDER BY rowid DESC LIMIT 10",
            ['kind:ticket AND {title body}:("invoice")'],
        )
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    # FTS5 consumes ORDER BY rowid itself: no temporary sort, so LIMIT stops the walk early.
    assert "VIRTUAL TABLE" in plan and "TEMP B-TREE" not in plan


def test_words_never_match_the_kind_column(personas, django_capture_on_commit_callbacks):
    _tickets(personas, django_capture_on_commit_callbacks, ["nothing to see"])
    assert search("ticket", types=("ticket",), agent=personas.admin) == []
    assert search("article", types=("customer", "ticket"), agent=personas.admin) == []


@pytest.mark.skipif(connection.vendor != "sqlite", reason="FTS5 vocabulary")
def test_a_prefix_is_expanded_once_per_search_into_plain_terms(
    personas, django_capture_on_commit_callbacks
):
    ids = _tickets(
        personas, django_capture_on_commit_callbacks, ["shipping label", "shipment lost", "ship"]
    )
    with CaptureQueriesContext(connection) as queries:
        hits = search("shipm", agent=personas.alice)
    assert [h.id for h in hits] == [ids[1]]
    sql = [q["sql"] for q in queries.captured_queries]
    assert sum("search_fts_terms" in q for q in sql) == 1  # shared by the kinds and snippets
    assert not any('"shipm"*' in q for q in sql)
    assert any('("shipment")' in q for q in sql)
    # Both forms of "ship..." are found, exactly as a prefix query would.
    assert {h.id for h in search("shipp", types=("ticket",), agent=personas.alice)} == {ids[0]}
    assert len(search("ship", types=("ticket",), agent=personas.alice)) == 3


@pytest.mark.skipif(connection.vendor != "sqlite", reason="FTS5 vocabulary")
def test_prefix_forms_are_read_by_seeking_term_to_term(
    personas, django_capture_on_commit_callbacks
):
    _tickets(
        personas,
        django_capture_on_commit_callbacks,
        ["refuel refund refunded", "refunds refute", "refus reftest"],
    )
    assert services._prefix_forms("refun") == ["refund", "refunded", "refunds"]
    assert services._prefix_forms("refuz") == []
    # More forms than MAX_PREFIX_FORMS: the prefix query is used instead, and still finds them.
    many = " ".join(f"zebra{n:02d}" for n in range(services.MAX_PREFIX_FORMS + 2))
    ids = _tickets(personas, django_capture_on_commit_callbacks, [many])
    assert services._prefix_forms("zebr") is None
    with CaptureQueriesContext(connection) as queries:
        hits = search("zebr", types=("ticket",), agent=personas.alice)
    assert [h.id for h in hits] == ids
    assert any('"zebr"*' in q["sql"] for q in queries.captured_queries)
    # Exactly MAX_PREFIX_FORMS forms are still expanded.
    exact = [f"yakk{n:02d}" for n in range(services.MAX_PREFIX_FORMS)]
    _tickets(personas, django_capture_on_commit_callbacks, [" ".join(exact)])
    assert services._prefix_forms("yakk") == exact


@pytest.mark.skipif(
    connection.vendor != "sqlite",
    reason="SQLite FTS5 only: PostgreSQL search has no separate prefix query to skip",
)
def test_a_prefix_query_is_skipped_when_it_cannot_find_more(
    personas, django_capture_on_commit_callbacks
):
    # "refund" is the only term starting with "refund", and nothing starts with "xylophone":
    # the prefix query would find what the exact one found, so it is not run.
    ids = _tickets(personas, django_capture_on_commit_callbacks, ["refund please"])
    for word, expected in (("refund", ids), ("xylophone", [])):
        with CaptureQueriesContext(connection) as queries:
            hits = search(word, types=("ticket",), agent=personas.alice)
        assert [h.id for h in hits] == expected
        candidate_sql = [
            q["sql"] for q in queries.captured_queries if "ORDER BY search_fts" in q["sql"]
        ]
        assert len(candidate_sql) == 1
    # A form beyond the word as typed: widened.
    more = _tickets(personas, django_capture_on_commit_callbacks, ["refunds arrived"])
    assert {h.id for h in search("refund", types=("ticket",), agent=personas.alice)} == {
        *ids,
        *more,
    }
