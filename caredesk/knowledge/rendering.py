"""Markdown to safe HTML: CommonMark without raw HTML, then the same sanitizer as customer mail."""

from __future__ import annotations

from markdown_it import MarkdownIt

from caredesk.core.html import html_to_text, sanitize_html

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_markdown(text: str) -> str:
    return sanitize_html(_markdown.render(text or ""), allow_remote_images=True)


def markdown_to_text(text: str) -> str:
    """The article as a reader sees it, in plain text (no `**`, `#` or link syntax): what search
    snippets show and what "Insert text" puts into a reply."""
    return html_to_text(render_markdown(text))
