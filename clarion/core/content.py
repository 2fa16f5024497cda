"""Turning what staff type into safe page content: Markdown bodies and video embeds."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import markdown
import nh3

ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "h2",
    "h3",
    "h4",
    "strong",
    "em",
    "b",
    "i",
    "a",
    "ul",
    "ol",
    "li",
    "blockquote",
    "code",
    "pre",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"scope"}}
VIDEO_HOSTS = ("https://www.youtube-nocookie.com", "https://player.vimeo.com")

_YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{6,20}$")
_VIMEO_ID = re.compile(r"^[0-9]{3,12}$")


def render_markdown(text: str) -> str:
    """Markdown to HTML with only harmless tags left (no images, scripts, styles or
    event attributes; links get rel=noopener noreferrer)."""
    html = markdown.markdown(text or "", extensions=["extra", "sane_lists"], output_format="html")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


def video_embed_url(url: str) -> str | None:
    """The privacy-enhanced embed address for a YouTube or Vimeo link, or None.

    YouTube goes to youtube-nocookie.com (no cookies until the visitor plays it).
    """
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if host.startswith("www.") or host.startswith("m."):
        host = host.split(".", 1)[1]
    path = parts.path.strip("/")
    video_id = ""
    if host in {"youtube.com", "youtube-nocookie.com"}:
        if path == "watch":
            video_id = (parse_qs(parts.query).get("v") or [""])[0]
        elif path.startswith(("embed/", "shorts/", "live/")):
            video_id = path.split("/", 1)[1].split("/")[0]
    elif host == "youtu.be":
        video_id = path.split("/")[0]
    elif host in {"vimeo.com", "player.vimeo.com"}:
        last = path.split("/")[-1] if path else ""
        if _VIMEO_ID.match(last):
            return f"https://player.vimeo.com/video/{last}"
        return None
    if video_id and _YOUTUBE_ID.match(video_id):
        return f"https://www.youtube-nocookie.com/embed/{video_id}"
    return None
