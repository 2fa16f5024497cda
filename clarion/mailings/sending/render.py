"""Compiling a mailing once, and rendering it per recipient.

A mailing's subject, body and preheader are Django templates with a restricted
context: a plain dict of merge fields (never model objects, so a template cannot walk
the ORM), an engine with no template loaders (``include``/``extends`` find nothing)
and only the tags in ``ALLOWED_TAGS``. ``safe`` and ``safeseq`` are refused, so
everything a person typed into their own name is escaped in the HTML part.

Compiling (once per mailing and variant, per sender):

1. template tags are swapped for inert placeholders so Markdown cannot mangle them;
2. Markdown becomes HTML (or the HTML body is used), then nh3 sanitises it;
3. every absolute http(s) link becomes a tracked link ``{{ click }}<n>`` (n is the
   ``Link.index``; the redirect adds the attribution token);
4. the plain-text part is made from that HTML (links kept as ``text (url)``);
5. the HTML goes into the mobile-friendly layout and its CSS is inlined (css-inline);
6. placeholders are restored and the templates compiled.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import css_inline
import markdown as markdown_lib
import nh3
from django.conf import settings
from django.template import Context, Engine, TemplateSyntaxError
from django.utils.html import escape
from django.utils.translation import gettext as _

ALLOWED_TAGS = {
    "if",
    "elif",
    "else",
    "endif",
    "firstof",
    "with",
    "endwith",
    "comment",
    "endcomment",
    "spaceless",
    "endspaceless",
    "now",
}
REFUSED_FILTERS = {"safe", "safeseq", "pprint", "force_escape"}
MERGE_FIELDS = {
    "first_name": _("First name"),
    "last_name": _("Last name"),
    "full_name": _("Full name"),
    "email": _("Email address"),
    "area": _("Area name"),
    "share_link": _("Personal share link"),
    "recruit_count": _("People they recruited"),
    "last_gift": _("Amount last given (e.g. £10.00)"),
    "organisation": _("Organisation name"),
    "unsubscribe_url": _("Unsubscribe link"),
    "preferences_url": _("Email preferences link"),
}
# Context names the pipeline itself sets (never shown as merge fields).
_INTERNAL = {"click", "pixel"}

# Conditional blocks by segment: {% if_segment "Donors" %}…{% else %}…{% endif_segment %}
# (``{% end %}`` closes one too). They become plain ``{% if segment_<n> %}`` blocks whose
# flag is set per recipient from membership computed once per mailing.
_SEGMENT_OPEN_RE = re.compile(r"""{%-?\s*if_segment\s+(?:"([^"]+)"|'([^']+)')\s*-?%}""")
_SEGMENT_CLOSE_RE = re.compile(r"{%-?\s*(?:endif_segment|end)\s*-?%}")
_SEGMENT_FLAG_RE = re.compile(r"^segment_\d+$")

_TAG_RE = re.compile(r"{{.*?}}|{%.*?%}", re.S)
_BLOCK_NAME_RE = re.compile(r"{%-?\s*(\w+)")
_VAR_RE = re.compile(r"{{\s*([A-Za-z_][\w.]*)\s*(\|[^}]*)?}}")
_FILTER_RE = re.compile(r"\|\s*(\w+)")
_IF_RE = re.compile(r"{%\s*(?:if|elif|firstof|with)\b(.*?)%}", re.S)
_HREF_RE = re.compile(r'href="(https?://[^"]+)"', re.I)

_ENGINE = Engine(loaders=[], libraries={}, debug=False, autoescape=True)
_TEXT_ENGINE = Engine(loaders=[], libraries={}, debug=False, autoescape=False)

HTML_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "caption",
    "code",
    "div",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "small",
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
    "center",
    "font",
}
HTML_ATTRIBUTES = {
    "*": {"class", "style", "align", "width", "height", "bgcolor", "title", "dir"},
    "a": {"href", "name", "target"},
    "img": {"src", "alt", "border"},
    "td": {"colspan", "rowspan", "valign"},
    "th": {"colspan", "rowspan", "valign", "scope"},
    "table": {"cellpadding", "cellspacing", "border", "role"},
    "font": {"color", "face", "size"},
}


class MergeError(ValueError):
    """A body or subject that cannot be compiled; ``messages`` says why, in words."""

    def __init__(self, messages: list[str]):
        super().__init__("; ".join(messages))
        self.messages = messages


def segment_names(source: str) -> list[str]:
    """The segment names used by ``if_segment`` blocks, in order of first use."""
    return list(dict.fromkeys(a or b for a, b in _SEGMENT_OPEN_RE.findall(source)))


def rewrite_segments(source: str, flags: dict[str, int]) -> str:
    """Turn ``if_segment`` blocks into ``{% if segment_<n> %}`` (n from ``flags``, by
    name); an unknown name becomes a block nobody sees."""

    def opening(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        return f"{{% if segment_{flags[name]} %}}" if name in flags else "{% if False %}"

    return _SEGMENT_CLOSE_RE.sub("{% endif %}", _SEGMENT_OPEN_RE.sub(opening, source))


def template_problems(source: str) -> list[str]:
    """What is wrong with a subject or body as a merge template (empty list: fine).
    Segment names in ``if_segment`` blocks are checked by the caller (they need the
    database)."""
    problems = []
    source = rewrite_segments(source, {name: i for i, name in enumerate(segment_names(source))})
    for name in _BLOCK_NAME_RE.findall(source):
        if name not in ALLOWED_TAGS:
            problems.append(
                _("The tag {%% %(name)s %%} is not allowed in a mailing.") % {"name": name}
            )
    for var, filters in _VAR_RE.findall(source):
        root = var.split(".")[0]
        if root not in MERGE_FIELDS:
            problems.append(_("Unknown merge field “%(name)s”.") % {"name": var})
        elif "." in var:
            problems.append(_("Merge fields have no parts: “%(name)s”.") % {"name": var})
        for f in _FILTER_RE.findall(filters or ""):
            if f in REFUSED_FILTERS:
                problems.append(
                    _("The filter |%(name)s is not allowed in a mailing.") % {"name": f}
                )
    for expression in _IF_RE.findall(source):
        for word in re.findall(
            r"\b[A-Za-z_][\w.]*\b", re.sub(r'"[^"]*"|\'[^\']*\'', "", expression)
        ):
            if word in {"and", "or", "not", "in", "is", "None", "True", "False", "as", "only"}:
                continue
            if (
                word.split(".")[0] not in MERGE_FIELDS
                and not word.isdigit()
                and not _SEGMENT_FLAG_RE.match(word)
            ):
                problems.append(_("Unknown merge field “%(name)s”.") % {"name": word})
    if "{{" in _TAG_RE.sub("", source) or "{%" in _TAG_RE.sub("", source):
        problems.append(_("A merge field is not closed (missing }} or %})."))
    if not problems:
        try:
            _ENGINE.from_string(source)
        except TemplateSyntaxError as exc:
            problems.append(_("Template error: %(error)s") % {"error": exc})
    return list(dict.fromkeys(problems))


def _protect(source: str) -> tuple[str, dict[str, str]]:
    saved: dict[str, str] = {}

    def keep(match: re.Match) -> str:
        key = f"CLARIONTPL{len(saved)}Z"
        saved[key] = match.group(0)
        return key

    return _TAG_RE.sub(keep, source), saved


def _restore(text: str, saved: dict[str, str]) -> str:
    for key, value in saved.items():
        text = text.replace(f"<!--{key}-->", value).replace(key, value)
    return text


def _shelter_block_tags(markup: str, saved: dict[str, str]) -> str:
    """Wrap placeholders of ``{% … %}`` tags in HTML comments, so the CSS inliner's
    HTML parser keeps them where they stand (bare text between table rows would be
    moved in front of the table)."""
    for key, value in saved.items():
        if value.startswith("{%"):
            markup = markup.replace(key, f"<!--{key}-->")
    return markup


_INLINER = css_inline.CSSInliner(keep_style_tags=True, load_remote_stylesheets=False)


def inline_css(markup: str) -> str:
    """Copy the layout's CSS rules onto the elements (many mail clients drop
    ``<style>``); the style element stays for the media queries of small screens."""
    return _INLINER.inline(markup)


class _TextMaker(HTMLParser):
    """HTML to readable plain text: blocks become lines, links keep their address."""

    BLOCK = {
        "p",
        "div",
        "h1",
        "h2",
        "h3",
        "h4",
        "li",
        "tr",
        "blockquote",
        "pre",
        "table",
        "ul",
        "ol",
    }

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.href: list[str | None] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script", "head"):
            self.skip += 1
        elif tag == "br":
            self.out.append("\n")
        elif tag == "li":
            self.out.append("\n* ")
        elif tag in self.BLOCK:
            self.out.append("\n\n")
        elif tag in ("h1", "h2"):
            self.out.append("\n\n")
        if tag == "a":
            self.href.append(dict(attrs).get("href"))

    def handle_endtag(self, tag):
        if tag in ("style", "script", "head"):
            self.skip = max(0, self.skip - 1)
        elif tag == "a" and self.href:
            href = self.href.pop()
            if href:
                self.out.append(f" ({href})")
        elif tag in self.BLOCK:
            self.out.append("\n\n")

    def handle_comment(self, data):
        if re.fullmatch(r"CLARIONTPL\d+Z", data):
            self.out.append(data)  # a sheltered block tag

    def handle_data(self, data):
        if not self.skip:
            self.out.append(re.sub(r"\s+", " ", data))

    def text(self) -> str:
        raw = "".join(self.out)
        lines = [line.strip() for line in raw.split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def html_to_text(markup: str) -> str:
    maker = _TextMaker()
    maker.feed(markup)
    maker.close()
    return maker.text()


@dataclass
class CompiledBody:
    html: object  # django.template.base.Template
    text: object
    links: list[str] = field(default_factory=list)


def compile_body(
    body: str,
    body_format: str,
    *,
    preheader: str = "",
    link_start: int = 0,
    known_links: list[str] | None = None,
) -> CompiledBody:
    """Compile a body (and its preheader) into HTML and text templates.

    ``known_links`` lets several variants share one link table: a URL already in it
    keeps its index. Raises MergeError for a body that is not a valid merge template.
    """
    problems = template_problems(body) + template_problems(preheader)
    if problems:
        raise MergeError(problems)
    protected, saved = _protect(body)
    if body_format == "markdown":
        markup = markdown_lib.markdown(protected, extensions=["extra", "sane_lists"])
    else:
        markup = protected
    # Block tags are sheltered in comments before any HTML parser sees them (nh3 and
    # the CSS inliner would move bare text out of tables); other comments are dropped.
    markup = re.sub(r"<!--.*?-->", "", markup, flags=re.S)
    markup = nh3.clean(
        _shelter_block_tags(markup, saved),
        tags=HTML_TAGS,
        attributes=HTML_ATTRIBUTES,
        link_rel=None,
        url_schemes={"http", "https", "mailto"},
        strip_comments=False,
    )
    markup = re.sub(r"<!--(?!CLARIONTPL\d+Z-->).*?-->", "", markup, flags=re.S)
    links = known_links if known_links is not None else []

    def track(match: re.Match) -> str:
        url = html.unescape(match.group(1))
        if url not in links:
            links.append(url)
        return f'href="CLARIONLINK{links.index(url) + link_start}Z"'

    markup = _HREF_RE.sub(track, markup)
    text = html_to_text(markup)
    markup = re.sub(r"CLARIONLINK(\d+)Z", r"{{ click }}\1", markup)
    text = re.sub(r"CLARIONLINK(\d+)Z", r"{{ click }}\1", text)
    protected_pre, saved_pre = _protect(preheader)
    layout = _layout(markup, escape(protected_pre))
    html_source = _restore(_restore(inline_css(layout), saved), saved_pre)
    text_source = _restore(text, saved) + _text_footer()
    try:
        return CompiledBody(
            html=_ENGINE.from_string(html_source),
            text=_TEXT_ENGINE.from_string(text_source),
            links=links,
        )
    except TemplateSyntaxError as exc:
        # Markdown can split a block across table cells it then drops (a row with more
        # cells than the header): say so instead of failing later.
        raise MergeError(
            [
                _("The body does not keep its blocks whole once formatted: %(error)s")
                % {"error": exc}
            ]
        ) from None


def compile_subject(subject: str):
    problems = template_problems(subject)
    if problems:
        raise MergeError(problems)
    return _TEXT_ENGINE.from_string(subject)


def _layout(body_html: str, preheader_html: str) -> str:
    """The mobile-friendly email shell around the body (built once per compile)."""
    unsubscribe = escape(_("Unsubscribe"))
    preferences = escape(_("Email preferences"))
    why = escape(
        _("You are receiving this because you signed up with %(org)s.")
        % {"org": settings.ORGANISATION_NAME}
    )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<style>body{margin:0;padding:0;background:#f4f4f4;font-family:Helvetica,Arial,sans-serif;"
        "font-size:16px;line-height:1.5;color:#222}"
        ".preheader{display:none!important;max-height:0;overflow:hidden;opacity:0}"
        ".wrap{max-width:600px;margin:0 auto;background:#fff;padding:24px}"
        "a{color:#b5121b}.footer{font-size:13px;color:#666;margin-top:32px}"
        "img{max-width:100%;height:auto}"
        "@media only screen and (max-width:620px){.wrap{padding:16px!important}"
        "body{font-size:17px!important}}</style></head><body>"
        f'<span class="preheader">{preheader_html}</span>'
        f'<div class="wrap">{body_html}'
        f'<p class="footer">{why}<br><a href="{{{{ unsubscribe_url }}}}">{unsubscribe}</a> · '
        f'<a href="{{{{ preferences_url }}}}">{preferences}</a></p></div>'
        '<img src="{{ pixel }}" width="1" height="1" alt=""></body></html>'
    )


def _text_footer() -> str:
    return (
        "\n--\n"
        + _("Unsubscribe: %(url)s") % {"url": "{{ unsubscribe_url }}"}
        + "\n"
        + _("Email preferences: %(url)s") % {"url": "{{ preferences_url }}"}
        + "\n"
    )


def _plan(template) -> list:
    """The template's top-level nodes, built once per compiled template: literal
    strings, ``(name, node)`` for a bare merge field (``{{ name }}``: no filter, no
    dots) and other nodes. A bare field holding a string is escaped and inserted
    directly, which is what Django's VariableNode does for it, for a fraction of the
    cost; everything else renders the usual way."""
    from django.template.base import TextNode, Variable, VariableNode

    plan = getattr(template, "_clarion_plan", None)
    if plan is not None:
        return plan
    plan = []
    for node in template.nodelist:
        if isinstance(node, TextNode):
            plan.append(node.s)
            continue
        if isinstance(node, VariableNode):
            fe = node.filter_expression
            var = fe.var
            if (
                not fe.filters
                and isinstance(var, Variable)
                and var.literal is None
                and not var.translate
                and var.lookups
                and len(var.lookups) == 1
            ):
                plan.append((var.lookups[0], node))
                continue
        plan.append(node)
    template._clarion_plan = plan
    return plan


def render(template, context: dict) -> str:
    autoescape = template.engine.autoescape
    ctx = Context(context, autoescape=autoescape)
    out: list[str] = []
    with ctx.render_context.push_state(template), ctx.bind_template(template):
        for part in _plan(template):
            if type(part) is str:
                out.append(part)
                continue
            if type(part) is tuple:
                value = context.get(part[0])
                if type(value) is str:
                    out.append(escape(value) if autoescape else value)
                    continue
                part = part[1]
            out.append(part.render_annotated(ctx))
    return "".join(out)


def uses(source: str, name: str) -> bool:
    return bool(re.search(rf"\b{re.escape(name)}\b", " ".join(_TAG_RE.findall(source))))
