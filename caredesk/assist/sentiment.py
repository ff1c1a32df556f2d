"""Sentiment of customer text: VADER's compound score, from -1 (very negative) to 1 (very
positive). A lexicon and rules, no model download, a few microseconds a sentence; made for
English (text in other languages mostly scores near 0)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

# Long messages (quoted threads, pasted logs) say little more about the mood than their start.
MAX_CHARS = 5000


@lru_cache(maxsize=1)
def _analyzer() -> Any:
    # Imported where used: the lexicon is read once per process, on first use.
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def score(text: str) -> float:
    """The compound score of the text; 0.0 for empty text."""
    text = (text or "").strip()[:MAX_CHARS]
    if not text:
        return 0.0
    return float(_analyzer().polarity_scores(text)["compound"])
