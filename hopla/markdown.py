"""Markdown source (ticket descriptions, comments) to HTML that is safe to put in a page.

Two well-kept libraries, each doing one job: markdown-it-py parses CommonMark (plus tables and
strikethrough) with raw HTML turned off, so any `<tag>` a user types is shown as text; nh3 (Ammonia)
then sanitises the result against an allow-list, so that even a parser bug or a crafted link cannot
bring a script, an event handler, a style or a `javascript:`/`data:` URL into the page. The API keeps
the source text; only pages call this.
"""

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

# What Markdown can produce, and nothing else: no div/span/form/iframe/svg/style even if nh3's
# defaults would let some of them through.
_TAGS = {
    "a",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "strong",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
# No class attribute (a user could borrow the page's own classes to dress text as a dialog) and no
# style but a table cell's alignment, the one style markdown-it writes itself.
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "th": {"style"},
    "td": {"style"},
}
_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    attributes=_ATTRIBUTES,
    filter_style_properties={"text-align"},
    # Relative URLs (a ticket's own page) pass; absolute ones only with these schemes. data: would let
    # an image carry SVG, javascript: runs on click.
    url_schemes={"http", "https", "mailto"},
    # Users' links are not endorsed (nofollow) and the page they open gets no handle on ours.
    link_rel="nofollow noopener noreferrer",
    strip_comments=True,
)

# "commonmark" with html off: raw HTML in the source is escaped, not passed through. markdown-it's own
# link validation already refuses javascript:, vbscript:, file: and most data: URLs; nh3 is the
# second, stricter wall. maxNesting bounds the recursion of pathological inputs (">>>>>…", "[[[[…").
_PARSER = MarkdownIt("commonmark", {"html": False, "maxNesting": 20}).enable(["table", "strikethrough"])


def markdown_to_html(source: str) -> SafeString:
    """Render `source` as sanitised HTML, ready for a template without `|safe`."""
    # mark_safe only on what nh3 has just cleaned: templates must not escape the tags it kept.
    return mark_safe(_CLEANER.clean(_PARSER.render(source)))
