"""HTML forms read as a browser submits them, so admin tests post what the page itself renders."""

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from django.test import Client


@dataclass
class Form:
    attrs: dict[str, str | None]
    # Each control's name and value as a browser submits them: enabled, checked, selected; no buttons.
    values: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, value: str) -> None:
        self.values.setdefault(name, []).append(value)


class _FormReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.form: Form | None = None
        self.select: tuple[str, bool] | None = None  # (name, multiple)
        self.options: list[tuple[str, bool]] = []  # (value, selected)
        self.option: list[str] | None = None  # the text of an option without a value attribute
        self.option_selected = False
        self.textarea: str | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attr_list: list[tuple[str, str | None]]) -> None:
        attrs = dict(attr_list)
        if tag == "form":
            self.form = Form(attrs)
            self.forms.append(self.form)
            return
        if self.form is None or "disabled" in attrs:
            return
        name = attrs.get("name") or ""
        if tag == "input" and name:
            kind = attrs.get("type") or "text"
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.form.add(name, attrs.get("value") or "on")
                return
            self.form.add(name, attrs.get("value") or "")
        elif tag == "select" and name:
            self.select, self.options = (name, "multiple" in attrs), []
        elif tag == "option" and self.select is not None:
            if attrs.get("value") is None:
                self.option, self.option_selected = [], "selected" in attrs
            else:
                self.options.append((attrs.get("value") or "", "selected" in attrs))
        elif tag == "textarea" and name:
            self.textarea, self.text = name, []

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            self.text.append(data)
        elif self.option is not None:
            self.option.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.form = None
        elif tag == "option" and self.option is not None:
            self.options.append(("".join(self.option).strip(), self.option_selected))
            self.option = None
        elif tag == "select" and self.select is not None and self.form is not None:
            name, multiple = self.select
            chosen = [value for value, selected in self.options if selected]
            if not chosen and not multiple and self.options:
                chosen = [self.options[0][0]]  # a single select without a selected option submits its first
            for value in chosen:
                self.form.add(name, value)
            self.select = None
        elif tag == "textarea" and self.textarea is not None and self.form is not None:
            # The newline right after <textarea> belongs to the markup, not to the value; a browser
            # submits the value's line ends as CRLF (HTML's form submission newline normalization).
            text = "".join(self.text).removeprefix("\n")
            self.form.add(self.textarea, text.replace("\r\n", "\n").replace("\n", "\r\n"))
            self.textarea = None


def read_forms(html: str) -> list[Form]:
    reader = _FormReader()
    reader.feed(html)
    return reader.forms


def submit(client: Client, path: str, changes: dict[str, str | list[str]], *, form_id: str | None = None) -> Any:
    """GET `path`, then `post_form` its form."""
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    return post_form(client, page.content.decode(), path, changes, form_id=form_id)


def post_form(
    client: Client, html: str, path: str, changes: dict[str, str | list[str]], *, form_id: str | None = None
) -> Any:
    """Fill in the form of `html` (the one with `form_id`, else the one that posts back to the page)
    with `changes` as a person would, and post it to `path` (submit buttons: name them in `changes`)."""
    forms = read_forms(html)
    if form_id is None:
        (form,) = [form for form in forms if form.attrs.get("method") == "post" and not form.attrs.get("action")]
    else:
        (form,) = [form for form in forms if form.attrs.get("id") == form_id]
    values = dict(form.values)
    for name, value in changes.items():
        values[name] = value if isinstance(value, list) else [value]
    return client.post(path, values)
