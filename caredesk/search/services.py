"""One search service for articles, tickets and customers, on SQLite FTS5 or PostgreSQL full text.

Documents (SearchDocument) are kept in sync by signal receivers (search/signals.py). Queries are
reduced to plain word tokens (all must match; the last one as a prefix), so FTS syntax characters,
quotes, emoji or 10,000-character input can never break a query. Titles weigh more than bodies.
Highlights come back HTML-escaped with <mark> around the matches.
"""

from __future__ import annotations

import html
import math
import re
import unicodedata
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Concat, Substr
from django.utils import timezone
from django.utils.html import escape

from caredesk.accounts.models import User
from caredesk.core.bulk import insert_rows
from caredesk.customers.models import Customer
from caredesk.search.models import SearchDocument

MAX_QUERY = 500
MAX_TOKENS = 12
TOKEN = re.compile(r"\w+", re.UNICODE)


@dataclass
class SearchHit:
    type: str  # "ticket" | "customer" | "article"
    id: int
    title: str
    snippet: str  # HTML-safe, matches wrapped in <mark>
    url: str
    score: float = 0.0


STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "could",
        "do",
        "does",
        "for",
        "from",
        "have",
        "how",
        "i",
        "if",
        "in",
        "is",
        "it",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "please",
        "so",
        "that",
        "the",
        "their",
        "there",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)


def tokens(query: str) -> list[str]:
    """Word tokens of a query (common words dropped unless nothing else is left)."""
    words = [t.lower() for t in TOKEN.findall((query or "")[:MAX_QUERY])]
    meaningful = [w for w in words if w not in STOPWORDS and len(w) > 1]
    return (meaningful or words)[:MAX_TOKENS]


# Each kind ranks at most its newest `bound(kind)` matching documents (by document id, which
# grows with creation). Scoring every match is what made common words slow: "refund" is in most
# tickets, and BM25 / ts_rank over 100,000 of them took 200-400 ms before the top 20 were known.
# Reading a kind's matches newest-first and stopping at the bound keeps the cost flat however
# large the index grows. A query with fewer matches than that is ranked over all of them, as
# before, so rare words lose nothing. Tickets and customers: the newest 300 (recency is what an
# agent wants among a common word's matches). Articles answer questions, so relevance matters
# more and a knowledge base is small: 1,000.
CANDIDATES = 200
ARTICLE_CANDIDATES = 400
# PostgreSQL probes the newest bound * PG_PROBE_WINDOW documents of a kind first (see
# _fts_postgres): a word in at least half of the recent documents is common for certain.
PG_PROBE_WINDOW = 2


def bound(kind: str) -> int:
    """How many of a kind's newest matches are ranked."""
    return ARTICLE_CANDIDATES if kind == "article" else CANDIDATES


KINDS = ("ticket", "customer", "article")


@dataclass
class Match:
    """One ranked document; snippets are built later, for the hits actually shown."""

    kind: str
    object_id: int
    title: str
    score: float
    document_id: int
    text: str = ""  # the start of the body it was ranked on (SCORED_CHARS); snippets come from it


def _sqlite_terms(words: list[str], any_word: bool, prefix: bool = True) -> str:
    joiner = " OR " if any_word else " AND "
    last = f'"{words[-1]}"'
    if prefix:
        forms = _prefix_forms(words[-1])
        if forms is None:
            last = f"{last}*"
        elif forms:
            last = "(" + " OR ".join(f'"{f}"' for f in forms) + ")"
    return joiner.join([*(f'"{w}"' for w in words[:-1]), last])


# A prefix is expanded into the indexed terms that start with it, ORed as plain terms: FTS5 walks
# an OR of terms newest-first and stops at the LIMIT, while a `prefix*` query merges every posting
# of every such term first, in each of the three kind queries and again for the snippets. One
# lookup serves a whole search (_search_prefixes). Too many forms (a short prefix): the `*` query,
# which the 2- and 3-letter prefix indexes serve.
MAX_PREFIX_FORMS = 16
_search_prefixes: ContextVar[dict[str, list[str] | None] | None] = ContextVar(
    "search_prefixes", default=None
)
# The terms are read off the `instance` vocabulary of the index by seeking: the first term at or
# after the prefix, then the first one after that term (term || char(1): the tokenizer never
# keeps control characters), and so on, in one statement. A seek reads one posting, whatever the
# term's document count; the `row` vocabulary would count every posting of each term first, which
# for a word in most tickets cost more than the whole rest of the search.
PREFIX_FORMS_SQL = """WITH RECURSIVE forms(term, n) AS (
    SELECT (SELECT term FROM search_fts_terms WHERE term >= %s LIMIT 1), 1
    UNION ALL
    SELECT (SELECT t.term FROM search_fts_terms t WHERE t.term >= forms.term || char(1) LIMIT 1),
        n + 1
    FROM forms WHERE forms.term < %s AND n <= %s)
SELECT term FROM forms WHERE term >= %s AND term < %s"""


def _prefix_forms(prefix: str) -> list[str] | None:
    """Indexed terms starting with `prefix` ([] when there are none), or None to use a `*` query
    instead (a short prefix, or too many forms)."""
    if len(prefix) <= 3:
        return None
    memo = _search_prefixes.get()
    if memo is not None and prefix in memo:
        return memo[prefix]
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    with connection.cursor() as cursor:
        cursor.execute(PREFIX_FORMS_SQL, [prefix, upper, MAX_PREFIX_FORMS, prefix, upper])
        forms = [term for (term,) in cursor.fetchall() if '"' not in term]
    result = None if len(forms) > MAX_PREFIX_FORMS else forms
    if memo is not None:
        memo[prefix] = result
    return result


def _fts_sqlite(
    words: list[str], kind: str, public_only: bool, limit: int, any_word: bool = False
) -> list[Match]:
    # The last word as typed first. A prefix query makes FTS5 merge the whole doclist of every
    # term starting with it before returning a row (tens of milliseconds for a common word, per
    # kind); a complete common word fills the candidate set without it. Only when the exact
    # word leaves room is it widened to a prefix ("xyloph" finds "xylophone").
    rows = _sqlite_candidates(words, kind, public_only, any_word, prefix=False)
    if len(rows) < bound(kind) and _prefix_widens(words[-1]):
        rows = _sqlite_candidates(words, kind, public_only, any_word, prefix=True)
    return _ranked(words, kind, rows, limit)


def _ranked(words: list[str], kind: str, rows: Sequence[Any], limit: int) -> list[Match]:
    """The best `limit` of a kind's candidates (id, object_id, title, start of body), by BM25
    (bm25_scores), newest first among equals. Both databases rank this way, so a query orders
    the same candidates the same on either."""
    scores = bm25_scores(words, [(title, body) for _, _, title, body in rows])
    ranked = sorted(zip(scores, rows, strict=True), key=lambda pair: (pair[0], pair[1][0]))
    ranked.reverse()
    return [Match(kind, o, t, score, i, body or "") for score, (i, o, t, body) in ranked[:limit]]


def _prefix_widens(word: str) -> bool:
    """Whether searching `word` as a prefix can find more than the word as typed: not when no
    other indexed term starts with it ("refund" alone, or "xylophone" found nowhere)."""
    forms = _prefix_forms(word)
    return forms is None or any(form != word for form in forms)


def _sqlite_candidates(
    words: list[str], kind: str, public_only: bool, any_word: bool, prefix: bool
) -> list[tuple[Any, ...]]:
    # Words match title and body only; the kind column narrows the doclist inside FTS5, so the
    # newest-first walk never has to skip other kinds' rows.
    match = f"kind:{kind} AND {{title body}}:({_sqlite_terms(words, any_word, prefix)})"
    # The newest bound(kind) matches straight off the FTS5 rowid index: FTS5 reads doclists in
    # rowid order and stops at the LIMIT, so this costs about a millisecond however common the
    # words are. FTS5's bm25() is not used: before scoring the first row it counts every
    # document containing each phrase (for IDF), which is a full doclist scan per word and per
    # kind, the very cost the bound is there to avoid.
    sql = (
        "SELECT c.id, d.object_id, d.title, substr(d.body, 1, %s) FROM ("
        "SELECT search_fts.rowid AS id FROM search_fts WHERE search_fts MATCH %s "
        "ORDER BY search_fts.rowid DESC LIMIT %s) c JOIN search_searchdocument d ON d.id = c.id"
        + (" WHERE d.public" if public_only else "")
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [SCORED_CHARS, match, bound(kind)])
        return list(cursor.fetchall())


# Scoring reads at most this much of each candidate's body: the start of a conversation or an
# article says what it is about, and a 200,000-character ticket should not cost 40 times more.
SCORED_CHARS = 5000
TITLE_WEIGHT = 30.0


def bm25_scores(words: list[str], documents: Sequence[tuple[str, str]]) -> list[float]:
    """BM25 of each (title, body) for the query words, with the document frequencies of the
    candidate set itself: a word in every candidate tells them apart by little, a word in few of
    them by a lot. Titles weigh TITLE_WEIGHT times a body word, as the FTS5 ranking did. Term
    frequencies are substring counts (C speed; "card" also counts in "cards"), which is what a
    ranking of a few hundred already-matched documents can afford."""
    n = len(documents)
    if not n or not words:
        return [0.0] * n
    k1, b = 1.2, 0.75
    titles = [(title or "").lower() for title, _ in documents]
    bodies = [(body or "").lower() for _, body in documents]
    lengths = [len(t) + len(d) for t, d in zip(titles, bodies, strict=True)]
    average = sum(lengths) / n or 1.0
    norms = [k1 * (1 - b + b * length / average) for length in lengths]
    scores = [0.0] * n
    # Word by word over all candidates (not document by document): one list of counts per word,
    # no per-document dictionaries; this loop is most of the ranking's time.
    for word in dict.fromkeys(words):
        counts = [
            TITLE_WEIGHT * t.count(word) + d.count(word)
            for t, d in zip(titles, bodies, strict=True)
        ]
        df = n - counts.count(0)
        if not df:
            continue
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        for i, tf in enumerate(counts):
            if tf:
                scores[i] += idf * tf * (k1 + 1) / (tf + norms[i])
    return scores


def _pg_query(words: list[str], any_word: bool) -> tuple[str, list[Any]]:
    # Word tokens only: to_tsquery syntax cannot be injected. Each word matches the stemmed
    # (language) or the plain ('simple') form; the last one also as a prefix.
    parts = []
    params: list[Any] = []
    for index, word in enumerate(words):
        suffix = ":*" if index == len(words) - 1 else ""
        parts.append("(plainto_tsquery('english', %s) || to_tsquery('simple', %s))")
        params += [word, f"{word}{suffix}"]
    return (" || " if any_word else " && ").join(parts), params


def _fts_postgres(
    words: list[str], kind: str, public_only: bool, limit: int, any_word: bool = False
) -> list[Match]:
    query_sql, params = _pg_query(words, any_word)
    # The GIN index can only hand back every match at once (a bitmap), and for a common word that
    # is ~100,000 rows fetched before the newest can be picked. So the newest documents of the
    # kind are probed first, newest-first off the (kind, id) index, a bounded window of them: if
    # bound(kind) of them match, those are the newest matches and the word was common. Otherwise
    # the GIN index fetches every match of the uncommon word. The probe costs the window,
    # whatever the size of the index. The kind is given as a range and the order as (kind, id) so
    # that only the (kind, id) index serves it: with `kind = %s ... ORDER BY id`, the planner
    # walks the primary key newest-first and filters, reading past every newer document of the
    # other kinds (10,000 articles added after the tickets: 10 ms before the first ticket).
    limit_ids = bound(kind)
    window = limit_ids * PG_PROBE_WINDOW
    # The probe hands back the text of the first bound(kind) matches with it (`n` numbers the
    # matches newest-first), read from the rows it is already on: a second statement fetching
    # them by id cost more server time than the probe. Bodies are cut to SCORED_CHARS only when
    # longer (substr on every row costs as much again).
    probe = (  # noqa: S608 - fixed fragments and placeholders only; values are bound parameters
        "SELECT id, object_id, title, public, hit, CASE WHEN hit AND n <= %s THEN "
        "CASE WHEN octet_length(body) <= %s THEN body ELSE substr(body, 1, %s) END END FROM ("
        "SELECT w.*, count(*) FILTER (WHERE w.hit) OVER (ORDER BY w.id DESC) AS n FROM ("
        f"SELECT id, object_id, title, public, body, tsv @@ ({query_sql}) AS hit "
        "FROM search_searchdocument WHERE kind >= %s AND kind <= %s "
        "ORDER BY kind DESC, id DESC LIMIT %s) w) x ORDER BY id DESC"
    )
    # Materialized so the ORDER BY ... LIMIT stays outside: with it inside, the planner may walk
    # the whole table newest-first hoping to meet the word soon (it guesses ~2% for an unknown
    # word), which for a word that is nowhere costs a full scan. This query only runs for words
    # the probe found to be uncommon, which is what the GIN index is for.
    every_match = (  # noqa: S608 - fixed fragments and placeholders only
        "WITH m AS MATERIALIZED (SELECT id FROM search_searchdocument "
        f"WHERE tsv @@ ({query_sql}) AND kind = %s) SELECT d.id, d.object_id, d.title, d.public, "
        "substr(d.body, 1, %s) FROM search_searchdocument d "
        "WHERE d.id IN (SELECT id FROM m ORDER BY id DESC LIMIT %s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(probe, [limit_ids, SCORED_CHARS, SCORED_CHARS, *params, kind, kind, window])
        probed = cursor.fetchall()
        rows = [(i, o, t, p, text) for i, o, t, p, hit, text in probed if hit][:limit_ids]
        # A window that was not full saw every document of the kind: nothing more to look for.
        if len(rows) < limit_ids and len(probed) == window:
            cursor.execute(every_match, [*params, kind, SCORED_CHARS, limit_ids])
            rows = cursor.fetchall()
    # The candidates are ranked in Python with the same BM25 as on SQLite: ts_rank_cd over a few
    # hundred documents that each hold the words many times cost 10-20 ms of server time per
    # kind, more than everything else in a search.
    candidates = [(i, o, t, text) for i, o, t, public, text in rows if public or not public_only]
    return _ranked(words, kind, candidates, limit)


def full_text(
    words: list[str], kinds: Sequence[str], *, public_only: bool = False, limit: int = 20
) -> list[Match]:
    """The best `limit` matches of each kind in `kinds`, best first, each kind ranked over its
    own bounded candidates (so one kind's high scores never crowd another kind out)."""
    kinds = [k for k in KINDS if k in kinds]
    if not words or not kinds:
        return []
    engine = _fts_postgres if connection.vendor == "postgresql" else _fts_sqlite

    def run(any_word: bool) -> list[Match]:
        found = [m for kind in kinds for m in engine(words, kind, public_only, limit, any_word)]
        return sorted(found, key=lambda m: m.score, reverse=True)

    # Articles answer questions in other words: any word counts, ranked by how well it matches.
    # Tickets and customers: every word first; when nothing has them all, any word.
    if kinds == ["article"]:
        return run(any_word=len(words) > 1)
    found = run(any_word=False)
    if not found and len(words) > 1:
        found = run(any_word=True)
    return found


def snippets(words: list[str], matches: Sequence[Match]) -> dict[int, tuple[str, str]]:
    """Body snippet and highlighted title per document id, HTML-safe, matches in <mark>. Built
    only for the hits shown, from the text each was ranked on: no query, on either database.
    (FTS5's snippet() and PostgreSQL's ts_headline re-read and re-tokenize each document; on
    PostgreSQL that was a quarter of a search's server time.) A word that occurs only past the
    first SCORED_CHARS characters of a long ticket is not highlighted; the snippet then shows the
    start of the conversation."""
    if not words:
        return {}
    return {
        m.document_id: (highlight(words, m.text), highlight(words, m.title, whole=True))
        for m in matches
    }


SNIPPET_CHARS = 140  # about the 16 words FTS5's snippet() gave
SNIPPET_LEAD = 30  # characters shown before the first highlighted word


def _fold(token: str) -> str:
    # As the FTS5 tokenizer (unicode61, remove_diacritics) and the query side see words.
    token = token.lower()
    if token.isascii():
        return token
    return "".join(c for c in unicodedata.normalize("NFKD", token) if not unicodedata.combining(c))


def _word_matches(words: list[str], text: str) -> list[tuple[int, int, str]]:
    """(start, end, folded word) of each query word in `text`; the last word also as a prefix."""
    folded = [_fold(w) for w in words]
    exact, prefix = set(folded), folded[-1]
    if text.isascii() and all(w.isascii() for w in folded):
        # One regular-expression pass (no per-word Python work): most text is plain ASCII.
        alternatives = "|".join(re.escape(w) for w in sorted(exact, key=len, reverse=True))
        pattern = re.compile(rf"\b(?:(?:{alternatives})\b|{re.escape(prefix)}\w*)", re.IGNORECASE)
        return [(m.start(), m.end(), m.group().lower()) for m in pattern.finditer(text)]
    found = []
    for token in TOKEN.finditer(text):
        word = _fold(token.group())
        if word in exact or word.startswith(prefix):
            found.append((token.start(), token.end(), word))
    return found


def _escape(text: str) -> str:
    # The standard library's escape: the same five characters as Django's, without its lazy-string
    # and SafeString wrapping, which cost more than the rest of a snippet (tens of calls per hit).
    return html.escape(text, quote=True)


def highlight(words: list[str], text: str, *, whole: bool = False) -> str:
    """`text` HTML-escaped with <mark> around the query words (the last one also as a prefix, as
    it is searched). Unless `whole`, only about SNIPPET_CHARS characters around the most query
    words, cut at word boundaries, with "…" where text was cut."""
    if not text:
        return ""
    matches = _word_matches(words, text)
    begin, end = 0, len(text)
    if not whole and len(text) > SNIPPET_CHARS:
        # The stretch (starting a little before a match) holding the most distinct words.
        best, best_count = 0, 0
        for start, _, _ in matches:
            lead = max(0, start - SNIPPET_LEAD)
            inside = {w for s, e, w in matches if lead <= s and e <= lead + SNIPPET_CHARS}
            if len(inside) > best_count:
                best, best_count = lead, len(inside)
        begin, end = best, min(len(text), best + SNIPPET_CHARS)
        if begin:  # start at a word, not inside one (begin is SNIPPET_LEAD before a match)
            space = text.find(" ", begin, begin + SNIPPET_LEAD)
            begin = space + 1 if space >= 0 else begin + SNIPPET_LEAD
        if end < len(text):
            space = text.rfind(" ", begin, end)
            end = space if space > begin else end
    parts = ["…" if begin else ""]
    cursor = begin
    for start, stop, _ in matches:
        if start >= cursor and stop <= end:
            parts += [_escape(text[cursor:start]), "<mark>", _escape(text[start:stop]), "</mark>"]
            cursor = stop
    parts.append(_escape(text[cursor:end]))
    if end < len(text):
        parts.append("…")
    return "".join(parts)


def search(
    query: str,
    *,
    types: Sequence[str] = ("ticket", "customer", "article"),
    agent: User | None = None,
    customer: Customer | None = None,
    limit: int = 20,
    language: str = "",
    ticket_filter: Q | None = None,
) -> list[SearchHit]:
    """Ranked hits the caller may see. Agents: their visible tickets, all customers, every
    published article. Customers and anonymous visitors: public published articles (and a
    customer's own tickets). `ticket_filter` narrows the tickets further (the agent search
    page's status, channel, team and date filters): it is applied with the visibility rule."""
    words = tokens(query)
    if not words:
        return []
    token = _search_prefixes.set({})
    try:
        return _search(query, words, types, agent, customer, limit, ticket_filter)
    finally:
        _search_prefixes.reset(token)


def _search(
    query: str,
    words: list[str],
    types: Sequence[str],
    agent: User | None,
    customer: Customer | None,
    limit: int,
    ticket_filter: Q | None = None,
) -> list[SearchHit]:
    from caredesk.knowledge.models import Article, ArticleStatus
    from caredesk.tickets.access import customer_tickets, visible_tickets

    def ticket_scope() -> Any:
        scope = visible_tickets(agent) if agent is not None else customer_tickets(customer)  # type: ignore[arg-type]
        return scope.filter(ticket_filter) if ticket_filter is not None else scope

    limit = max(1, min(limit, 100))
    kinds = [k for k in types if k in ("ticket", "customer", "article")]
    if agent is None:
        kinds = [k for k in kinds if k == "article" or (k == "ticket" and customer is not None)]
    if not kinds:
        return []
    hits: list[SearchHit] = []
    # Tickets by number first: "#123" or "123".
    if "ticket" in kinds and query.strip().lstrip("#").isdigit():
        number = int(query.strip().lstrip("#"))
        ticket = ticket_scope().filter(pk=number).first()
        if ticket is not None:
            hits.append(
                SearchHit(
                    "ticket",
                    ticket.pk,
                    f"#{ticket.pk} {ticket.subject}",
                    escape(ticket.subject),
                    _url("ticket", ticket.pk, agent is not None),
                    1000.0,
                )
            )
    matches = full_text(
        words, kinds, public_only=agent is None and "ticket" not in kinds, limit=limit * 5
    )
    # Title matches first (BM25 barely separates them when a word is common), then the engine's rank.
    matches.sort(key=lambda m: (_title_hits(words, m.title), m.score), reverse=True)
    ticket_ids = [m.object_id for m in matches if m.kind == "ticket"]
    allowed_tickets: set[int] = set()
    if ticket_ids:
        allowed_tickets = set(ticket_scope().filter(pk__in=ticket_ids).values_list("pk", flat=True))
    article_ids = [m.object_id for m in matches if m.kind == "article"]
    articles = {
        a.pk: a
        for a in Article.objects.filter(pk__in=article_ids, status=ArticleStatus.PUBLISHED).only(
            "pk", "slug", "visibility"
        )
    }
    shown: list[tuple[Match, str]] = []
    for match in matches:
        if len(hits) + len(shown) >= limit:
            break
        if match.kind == "ticket" and match.object_id not in allowed_tickets:
            continue
        if match.kind == "article":
            article = articles.get(match.object_id)
            if article is None or (agent is None and article.visibility != "public"):
                continue
            url = f"/help/articles/{article.slug}/" if agent is None else f"/agent/kb/{article.pk}/"
        else:
            url = _url(match.kind, match.object_id, agent is not None)
        if any(h.type == match.kind and h.id == match.object_id for h in hits):
            continue
        shown.append((match, url))
    built = snippets(words, [m for m, _ in shown])
    for match, url in shown:
        body, title = built.get(match.document_id, ("", ""))
        hits.append(
            SearchHit(match.kind, match.object_id, match.title, body or title, url, match.score)
        )
    return hits


@dataclass
class AgentResult:
    """A row of the agent search page: the hit, with its ticket (requester and team loaded) or
    its customer (organization loaded)."""

    hit: SearchHit
    ticket: Any = None
    customer: Customer | None = None

    @property
    def customer_title(self) -> str:
        c = self.customer
        return (c.name or c.email or c.phone) if c is not None else ""

    @property
    def customer_details(self) -> list[str]:
        """Address, phone and organization, each once, leaving out what the title already says."""
        c = self.customer
        if c is None:
            return []
        organization = c.organization.name if c.organization_id else ""  # type: ignore[union-attr]
        title = self.customer_title
        return [v for v in dict.fromkeys((c.email, c.phone, organization)) if v and v != title]


def agent_results(hits: Sequence[SearchHit]) -> list[AgentResult]:
    """The rows of the agent search page: each ticket hit with its number, status, channel,
    requester, team and last update; each customer hit with its contact details. Two queries
    whatever the number of hits."""
    from caredesk.tickets.models import Ticket

    ticket_ids = [h.id for h in hits if h.type == "ticket"]
    customer_ids = [h.id for h in hits if h.type == "customer"]
    tickets = (
        Ticket.objects.filter(pk__in=ticket_ids)
        .select_related("requester", "team")
        .only(
            "pk",
            "subject",
            "status",
            "channel",
            "updated_at",
            "requester__name",
            "requester__email",
            "requester__phone",
            "team__name",
        )
        .in_bulk()
        if ticket_ids
        else {}
    )
    customers = (
        Customer.objects.filter(pk__in=customer_ids)
        .select_related("organization")
        .only("pk", "name", "email", "phone", "vip", "organization__name")
        .in_bulk()
        if customer_ids
        else {}
    )
    return [
        AgentResult(
            hit,
            ticket=tickets.get(hit.id) if hit.type == "ticket" else None,
            customer=customers.get(hit.id) if hit.type == "customer" else None,
        )
        for hit in hits
    ]


def _title_hits(words: list[str], title: str) -> int:
    title_words = TOKEN.findall(title.lower())
    return sum(1 for w in words if any(t.startswith(w) for t in title_words))


def _url(kind: str, object_id: int, for_agent: bool) -> str:
    if kind == "ticket":
        return f"/agent/tickets/{object_id}/" if for_agent else f"/help/requests/{object_id}/"
    return f"/agent/customers/{object_id}/"


# --- keeping the index in sync ----------------------------------------------------------------

MAX_BODY = 200_000


def index_document(
    kind: str, object_id: int, *, title: str, body: str, language: str = "", public: bool = False
) -> None:
    SearchDocument.objects.update_or_create(
        kind=kind,
        object_id=object_id,
        defaults={
            "title": title[:300],
            "body": body[:MAX_BODY],
            "language": language[:10],
            "public": public,
        },
    )


def remove_document(kind: str, object_id: int) -> None:
    SearchDocument.objects.filter(kind=kind, object_id=object_id).delete()


# A ticket's document is its subject over the text of its messages in order, joined by newlines.
# New tickets and new messages write it inside the transaction that stores the message, after the
# ticket row is locked (`add_ticket` / `append_to_ticket`): one statement, and what is appended is
# exactly the committed message, whatever order concurrent writers commit in. Re-reading every
# message on each new one (as an on-commit rebuild did) cost a long chat or email thread time
# quadratic in its length. Changes that move messages between tickets rebuild (`index_ticket`).


def add_ticket(ticket_id: int, *, title: str, body: str, language: str = "") -> None:
    """The document of a ticket created in the current transaction."""
    SearchDocument.objects.create(
        kind="ticket",
        object_id=ticket_id,
        title=title[:300],
        body=body[:MAX_BODY],
        language=language[:10],
    )


def append_to_ticket(ticket_id: int, text: str) -> None:
    """Add one new message's text to its ticket's document. Call it in the transaction that stores
    the message, with the ticket row locked, so two writers cannot interleave with a rebuild."""
    appended = SearchDocument.objects.filter(kind="ticket", object_id=ticket_id).update(
        body=Substr(Concat(F("body"), Value("\n" + text)), 1, MAX_BODY),
        updated_at=timezone.now(),
    )
    if not appended:  # a ticket indexed before documents were kept this way, or never indexed
        index_ticket(ticket_id)


# Tickets a statement of `append_to_tickets` (two parameters each, under SQLite's 999).
APPEND_CHUNK = 400


def append_to_tickets(texts: dict[int, str]) -> None:
    """`append_to_ticket` for many tickets at once (a batch of chat lines: each ticket's new
    texts joined by newlines): one statement for all of them, in the same transaction and under
    the same row locks. Tickets without a document yet are indexed in full."""
    if not texts:
        return
    ids = sorted(texts)
    quote = connection.ops.quote_name
    column = {f.name: quote(f.column or f.name) for f in SearchDocument._meta.concrete_fields}
    table = quote(SearchDocument._meta.db_table)
    stamp = connection.ops.adapt_datetimefield_value(timezone.now())
    updated = 0
    # One UPDATE ... FROM a chunk (SQLite 3.33+, PostgreSQL): a statement a ticket
    # would cost a round trip each on PostgreSQL. Table and column names come from the model and
    # MAX_BODY is ours; the values are parameters.
    with connection.cursor() as cursor:
        for start in range(0, len(ids), APPEND_CHUNK):
            chunk = ids[start : start + APPEND_CHUNK]
            rows = " UNION ALL ".join(["SELECT %s AS object_id, %s AS text"] * len(chunk))
            cursor.execute(
                f"UPDATE {table} SET "  # noqa: S608
                f"{column['body']} = SUBSTR({column['body']} || appended.text, 1, {int(MAX_BODY)}), "
                f"{column['updated_at']} = %s FROM ({rows}) AS appended "
                f"WHERE {table}.{column['kind']} = 'ticket' "
                f"AND {table}.{column['object_id']} = appended.object_id",
                [stamp, *(v for pk in chunk for v in (pk, "\n" + texts[pk]))],
            )
            updated += cursor.rowcount
    if updated == len(ids):  # the usual case: every ticket had its document
        return
    present = set(
        SearchDocument.objects.filter(kind="ticket", object_id__in=ids).values_list(
            "object_id", flat=True
        )
    )
    for pk in ids:
        if pk not in present:
            index_ticket(pk)  # reads the messages just stored too


def retitle_ticket(ticket_id: int, *, title: str, language: str) -> None:
    """Subject or language changed (in the current transaction): the body stays as it is."""
    updated = SearchDocument.objects.filter(kind="ticket", object_id=ticket_id).update(
        title=title[:300], language=(language or "")[:10], updated_at=timezone.now()
    )
    if not updated:
        index_ticket(ticket_id)


@transaction.atomic
def index_ticket(ticket_id: int) -> None:
    """Rebuild a ticket's document from its messages. The ticket row is locked first, so a message
    being appended concurrently is either already committed (and read here) or appended after."""
    from caredesk.tickets.models import Message, Ticket

    ticket = (
        Ticket.objects.select_for_update()
        .filter(pk=ticket_id)
        .values("subject", "language")
        .first()
    )
    if ticket is None:
        remove_document("ticket", ticket_id)
        return
    texts = (
        Message.objects.filter(ticket_id=ticket_id)
        .order_by("id")
        .values_list("body_text", flat=True)
    )
    index_document(
        "ticket",
        ticket_id,
        title=ticket["subject"],
        body="\n".join(texts),
        language=ticket["language"],
    )


def customer_body(customer: Customer, identity_values: Sequence[str]) -> str:
    """A customer's document text: address, phone, the other identities, notes. An identity
    that repeats the address or the phone (the usual email identity) is not written twice."""
    known = {(customer.email or "").lower(), (customer.phone or "").lower(), ""}
    others = [v for v in dict.fromkeys(identity_values) if v.lower() not in known]
    return " ".join(
        part for part in (customer.email, customer.phone, " ".join(others), customer.notes) if part
    )


def index_customer(customer: Customer) -> None:
    index_document(
        "customer",
        customer.pk,
        title=customer.name or customer.email or customer.phone,
        body=customer_body(customer, list(customer.identities.values_list("value", flat=True))),
    )


def add_customers(customers: Sequence[tuple[Customer, list[str]]]) -> None:
    """The documents of customers created in the current transaction without a save signal
    (a bulk insert), with their identity values: what `index_customer` would write."""
    insert_rows(
        SearchDocument,
        [
            {
                "kind": "customer",
                "object_id": customer.pk,
                "title": (customer.name or customer.email or customer.phone)[:300],
                "body": customer_body(customer, values)[:MAX_BODY],
            }
            for customer, values in customers
        ],
        timezone.now(),
    )


def add_tickets(documents: Sequence[tuple[int, str, str, str]]) -> None:
    """`add_ticket` for several tickets created in the current transaction, in one INSERT:
    (ticket id, title, body, language)."""
    insert_rows(
        SearchDocument,
        [
            {
                "kind": "ticket",
                "object_id": ticket_id,
                "title": title[:300],
                "body": body[:MAX_BODY],
                "language": language[:10],
            }
            for ticket_id, title, body, language in documents
        ],
        timezone.now(),
    )


def index_article(article: Any) -> None:
    from caredesk.knowledge.rendering import markdown_to_text

    index_document(
        "article",
        article.pk,
        title=article.title,
        # The text readers see, not the Markdown source: snippets quote it.
        body=markdown_to_text(article.body),
        language=article.language,
        public=article.visibility == "public" and article.status == "published",
    )


def reindex_all() -> int:
    from caredesk.knowledge.models import Article
    from caredesk.tickets.models import Ticket

    count = 0
    for ticket_id in Ticket.objects.values_list("pk", flat=True).iterator():
        index_ticket(ticket_id)
        count += 1
    for customer in Customer.objects.prefetch_related("identities").iterator(chunk_size=500):
        index_customer(customer)
        count += 1
    for article in Article.objects.iterator():
        index_article(article)
        count += 1
    return count
