"""The message catalogue is complete and sound (docs/i18n.md).

Fails when a string shown to users is missing from the template or from a language's catalogue,
when a translation (English excepted: its catalogue is the identity) is empty or fuzzy, when a
translation's placeholders or markup differ from its msgid's, when a template shows text that
does not go through gettext, or when the domain or web layer raises a plain English message.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from signin.accounts import errors
from signin.i18n import LANGUAGES, LOCALE_DIR

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "signin"
TEMPLATES = [
    *sorted((SRC / "web" / "templates").rglob("*.html")),
    *sorted((SRC / "mail" / "templates").glob("*.*")),
]
PLACEHOLDER = re.compile(r"%\((?:\w+)\)[-#0 +]*\d*(?:\.\d+)?[sdrif]|\{\w+\}")
TAG = re.compile(r"<[^>]+>")
# Visible template text that is not translated: the product's name, and "API" in the title of
# the API documentation page (Swagger UI, which draws the rest of that page, is English only).
ALLOWED_TEXT = {"signin", "API"}
URL_PARTS = re.compile(r"(?<![\w>])/[\w\-/]*|[?&]\w+=\w*")


def read(path: Path) -> Catalog:
    with path.open("rb") as source:
        return read_po(source)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """What tools/i18n.sh would extract today, into a throwaway template."""
    out = tmp_path_factory.mktemp("pot") / "messages.pot"
    command = [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg"]
    command += ["--no-default-keywords", "-k", "N_", "-k", "_", "-k", "gettext"]
    command += ["-k", "Nn_:1,2", "-k", "ngettext:1,2", "-o", str(out), "src/signin"]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=120)
    return read(out)


def ids(catalog: Catalog) -> set[str]:
    return {message.id for message in catalog if message.id and isinstance(message.id, str)}


def test_extraction_finds_the_messages(extracted: Catalog) -> None:
    found = ids(extracted)
    assert "Sign in" in found  # a template
    assert "That username is taken." in found  # accounts/errors.py
    assert "Reset your password" in found  # a mail subject
    assert "Please fill in: %(field)s." in found  # a JavaScript message
    assert len(found) > 300


def test_the_shipped_template_has_every_message(extracted: Catalog) -> None:
    missing = ids(extracted) - ids(read(LOCALE_DIR / "messages.pot"))
    assert not missing, f"run tools/i18n.sh; not in messages.pot: {sorted(missing)}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_is_complete(extracted: Catalog, language: str) -> None:
    catalog = read(LOCALE_DIR / language / "LC_MESSAGES" / "messages.po")
    missing = ids(extracted) - ids(catalog)
    assert not missing, f"run tools/i18n.sh; {language} lacks: {sorted(missing)}"
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not fuzzy, f"{language}: fuzzy entries to review: {fuzzy}"
    if language != "en":  # English is the identity catalogue: empty msgstr = the msgid
        empty = [m.id for m in catalog if m.id and not m.string]
        assert not empty, f"{language}: {len(empty)} untranslated, e.g. {empty[:3]}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_placeholders_and_markup(language: str) -> None:
    catalog = read(LOCALE_DIR / language / "LC_MESSAGES" / "messages.po")
    broken = []
    for message in catalog:
        if not message.id or not message.string:
            continue
        pairs = zip(
            message.id if isinstance(message.id, tuple) else (message.id,),
            message.string if isinstance(message.string, tuple) else (message.string,),
            strict=False,
        )
        for source, target in pairs:
            if not target:
                continue
            if Counter(PLACEHOLDER.findall(source)) != Counter(PLACEHOLDER.findall(target)):
                broken.append(("placeholders", source, target))
            if Counter(TAG.findall(source)) != Counter(TAG.findall(target)):
                broken.append(("markup", source, target))
    problems = [(m.id, [str(e) for e in errs]) for m, errs in catalog.check() if errs]
    assert not broken, f"{language}: {broken[:5]}"
    assert not problems, f"{language}: {problems[:5]}"


class _Text(HTMLParser):
    """Visible text and human-read attributes of what is left of a template."""

    SHOWN_ATTRIBUTES = ("placeholder", "title", "alt", "aria-label")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        self.found += [value or "" for name, value in attrs if name in self.SHOWN_ATTRIBUTES]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.found.append(data)


def visible_text(template: Path) -> list[str]:
    source = template.read_text(encoding="utf-8")
    source = re.sub(r"\{#.*?#\}", " ", source, flags=re.S)
    source = re.sub(r"\{%-?\s*trans\b.*?\{%-?\s*endtrans\s*-?%\}", " ", source, flags=re.S)
    source = re.sub(r"\{\{.*?\}\}", " ", source, flags=re.S)
    source = re.sub(r"\{%.*?%\}", " ", source, flags=re.S)
    source = URL_PARTS.sub(" ", source)  # link targets built in `{% set %}` blocks
    if template.suffix == ".txt":
        texts = [source]
    else:
        parser = _Text()
        parser.feed(source)
        texts = parser.found
    words = []
    for text in texts:
        words += [w for w in re.findall(r"[^\W\d_]{2,}", text) if w not in ALLOWED_TEXT]
    return words


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(SRC)))
def test_templates_show_no_text_outside_gettext(template: Path) -> None:
    assert visible_text(template) == []


def test_the_template_check_can_fail(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text('<p title="Hello">{{ _("Fine") }} Oops</p>{% trans %}Also fine{% endtrans %}')
    assert visible_text(page) == ["Hello", "Oops"]


SIGNIN_ERRORS = {cls.__name__ for cls in vars(errors).values() if isinstance(cls, type)}
SIGNIN_ERRORS &= {
    name for name in SIGNIN_ERRORS if issubclass(getattr(errors, name), errors.SigninError)
}
MESSAGE_ARGUMENT = {"Problem": 2, "HTTPException": 1, **dict.fromkeys(SIGNIN_ERRORS, 0)}


def plain_messages(path: Path) -> list[str]:
    """String literals given as a message to an error, a Problem or an HTTPException."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        position = MESSAGE_ARGUMENT.get(name or "")
        if position is None or len(node.args) <= position:
            continue
        argument = node.args[position]
        is_text = isinstance(argument, ast.Constant) and isinstance(argument.value, str)
        if is_text or isinstance(argument, ast.JoinedStr):
            found.append(f"{path.relative_to(SRC)}:{node.lineno}")
    return found


def test_domain_and_web_messages_are_marked_for_the_catalogue() -> None:
    sources = [*sorted((SRC / "accounts").rglob("*.py")), *sorted((SRC / "web").rglob("*.py"))]
    unmarked = [where for path in sources for where in plain_messages(path)]
    assert unmarked == [], "wrap the message in N_(...) and pass values as parameters"


def test_the_placeholder_check_can_fail() -> None:
    source = 'Hello %(name)s, <a href="%(url)s">go</a> {count}'
    assert Counter(PLACEHOLDER.findall(source)) != Counter(PLACEHOLDER.findall("Hallo %(nam)s"))
    assert Counter(TAG.findall(source)) != Counter(TAG.findall('<a href="%(url)s">los'))
    assert PLACEHOLDER.findall(source) == ["%(name)s", "%(url)s", "{count}"]
