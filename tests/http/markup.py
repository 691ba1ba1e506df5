"""Reading a page's markup in tests: one element's opening tag and its attributes."""

from __future__ import annotations

import re
from html.parser import HTMLParser


class _Finder(HTMLParser):
    def __init__(self, element_id: str) -> None:
        super().__init__()
        self.element_id = element_id
        self.found: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.found is None and dict(attrs).get("id") == self.element_id:
            self.found = {"<tag>": tag, **dict(attrs)}


def attributes(html: str, element_id: str) -> dict[str, str | None]:
    """The attributes of the element with this id (a boolean attribute maps to None)."""
    finder = _Finder(element_id)
    finder.feed(html)
    assert finder.found is not None, f"no element with id {element_id!r}"
    return finder.found


ALERT = re.compile(r'<p class="form-error" role="alert" data-js-error( hidden)?>(.*?)</p>', re.S)


def alert_box(html: str) -> str | None:
    """The text of the form's alert box, or None when it is hidden."""
    match = ALERT.search(html)
    assert match, "no alert box in the page"
    return None if match.group(1) else re.sub(r"<[^>]+>", " ", match.group(2))


def assert_field_problem(html: str, input_id: str, field: str, text: str) -> None:
    """The input is marked invalid, described by its problem, and the alert box says it."""
    found = attributes(html, input_id)
    assert found.get("aria-invalid") == "true", found
    assert found.get("aria-describedby") == f"{field}-error", found
    assert text in html.split(f'id="{field}-error"', 1)[1].split("</p>", 1)[0]
    summary = alert_box(html)
    assert summary is not None, "the alert box is hidden"
    assert text in summary, summary
    assert f'href="#{input_id}"' in html
