"""Untrusted HTML from customers: sanitized with nh3 before it is stored or shown."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterable
from typing import Any

import nh3

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "div",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
    "font",
    "center",
    "small",
    "big",
    "dl",
    "dt",
    "dd",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "*": {"dir", "lang"},
}
_SAFE_SCHEMES = {"http", "https", "mailto", "tel", "cid"}


def sanitize_html(value: str, *, allow_remote_images: bool = False) -> str:
    """Return HTML that cannot run script; remote images become inert unless allowed."""
    if not value:
        return ""

    def filter_attribute(tag: str, attribute: str, attr_value: str) -> str | None:
        if tag == "img" and attribute == "src":
            lowered = attr_value.strip().lower()
            # Inline (cid:) images and this site's own files; "//host" and "/\\host" are
            # remote (a tracking pixel), as browsers read them.
            if lowered.startswith("cid:") or (
                lowered.startswith("/") and not lowered.startswith(("//", "/\\"))
            ):
                return attr_value
            if allow_remote_images and lowered.startswith(("http://", "https://")):
                return attr_value
            return None
        return attr_value

    return nh3.clean(
        value,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=_SAFE_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        attribute_filter=filter_attribute,
        strip_comments=True,
    )


_CID_SRC = re.compile(r"""src=(["'])cid:([^"']+)\1""", re.I)


def link_inline_images(value: str, urls: dict[str, str]) -> str:
    """Point `src="cid:..."` at the URLs given for those content ids (the reader's own
    access-checked download of each inline attachment); unknown ids are left as they are."""
    if "cid:" not in value or not urls:
        return value

    def replace(match: re.Match[str]) -> str:
        url = urls.get(html_lib.unescape(match.group(2)))
        return f'src="{html_lib.escape(url)}"' if url else match.group(0)

    return _CID_SRC.sub(replace, value)


_AGENT_ATTACHMENT_SRC = re.compile(r'src="/agent/attachments/(\d+)/"')


def relink_agent_attachment_images(value: str, urls: dict[int, str]) -> str:
    """Inbound mail's inline images are stored pointing at the agent's download
    (`/agent/attachments/<id>/`); point those of the given attachment ids at other URLs (the
    customer's own download in the help centre). Other ids are left as they are."""
    if "/agent/attachments/" not in value or not urls:
        return value

    def replace(match: re.Match[str]) -> str:
        url = urls.get(int(match.group(1)))
        return f'src="{html_lib.escape(url)}"' if url else match.group(0)

    return _AGENT_ATTACHMENT_SRC.sub(replace, value)


def inline_image_urls(attachments: Iterable[Any], url_name: str) -> dict[str, str]:
    """cid -> download URL of each inline attachment (`url_name`: the agent's or the customer's
    access-checked download view, which takes the attachment's id)."""
    from django.urls import reverse

    return {a.content_id: reverse(url_name, args=[a.pk]) for a in attachments if a.content_id}


_BLOCK_BREAKS = re.compile(r"<\s*(br|/p|/div|/li|/tr|/h[1-6])\s*/?>", re.I)
_TAGS = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def html_to_text(value: str) -> str:
    """A readable plain-text rendering of (already sanitized) HTML."""
    if not value:
        return ""
    cleaned = nh3.clean(
        value,
        tags={"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"},
        attributes={},
    )
    text = _BLOCK_BREAKS.sub("\n", cleaned)
    text = _TAGS.sub("", text)
    text = html_lib.unescape(text)
    text = _SPACES.sub(" ", text)
    return _BLANK_LINES.sub("\n\n", "\n".join(line.strip() for line in text.splitlines())).strip()


def text_to_html(value: str) -> str:
    """Escape plain text and keep its line breaks."""
    escaped = html_lib.escape(value or "")
    paragraphs = [p.replace("\n", "<br>") for p in escaped.split("\n\n")]
    return "".join(f"<p>{p}</p>" for p in paragraphs if p)
