"""Snippets are built from the text a hit was ranked on, with no query: HTML-escaped, the query
words in <mark> (the last also as a prefix, diacritics folded as the index folds them), cut
around the most query words."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from caredesk.search.services import SNIPPET_CHARS, highlight, search
from tests import factories


def test_words_are_marked_and_everything_else_escaped():
    text = 'My <b>refund</b> & "shipping" <script>x</script>'
    assert highlight(["refund", "ship"], text) == (
        "My &lt;b&gt;<mark>refund</mark>&lt;/b&gt; &amp; &quot;<mark>shipping</mark>&quot; "
        "&lt;script&gt;x&lt;/script&gt;"
    )


def test_only_the_last_word_matches_as_a_prefix_and_case_is_kept():
    assert highlight(["refund", "ship"], "Refunds and REFUND ship shipment") == (
        "Refunds and <mark>REFUND</mark> <mark>ship</mark> <mark>shipment</mark>"
    )


@pytest.mark.parametrize("text", ["Le Café au lait", "le CAFÉ"])
def test_diacritics_are_folded_as_the_index_folds_them(text):
    assert "<mark>" in highlight(["cafe"], text)
    assert "<mark>" in highlight(["café"], text.replace("é", "e").replace("É", "E"))


def test_a_long_text_is_cut_around_the_most_query_words():
    text = " ".join(["filler"] * 60 + ["refund", "for", "parcel"] + ["filler"] * 60 + ["refund"])
    snippet = highlight(["refund", "parcel"], text)
    assert snippet.startswith("…") and snippet.endswith("…")
    assert "<mark>refund</mark> for <mark>parcel</mark>" in snippet
    assert len(snippet.replace("<mark>", "").replace("</mark>", "")) <= SNIPPET_CHARS + 2
    assert not snippet[1:].startswith("iller")  # cut at a word, not inside one


def test_without_a_match_the_start_is_shown_and_titles_are_whole():
    text = " ".join(f"word{n}" for n in range(100))
    assert highlight(["zzz"], text).startswith("word0 word1 ")
    assert highlight(["zzz"], text, whole=True) == text
    assert highlight(["zzz"], "") == ""


@pytest.mark.django_db
def test_snippets_cost_no_query(personas, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        factories.ticket(team=personas.billing, body="Where is my parcel & <box>?")
    with CaptureQueriesContext(connection) as queries:
        hits = search("parcel", types=("ticket",), agent=personas.alice)
    assert hits[0].snippet == "Where is my <mark>parcel</mark> &amp; &lt;box&gt;?"
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "snippet(" not in sql and "ts_headline" not in sql
