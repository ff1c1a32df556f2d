"""Markdown to safe HTML: CommonMark without raw HTML, then the same sanitizer as customer mail."""

from __future__ import annotations

from markdown_it import MarkdownIt

from caredesk.core.html import sanitize_html

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_markdown(text: str) -> str:
    return sanitize_html(_markdown.render(text or ""), allow_remote_images=True)
