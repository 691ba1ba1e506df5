"""The languages signin speaks, and the marker that puts a string into the message catalogue.

This module stays free of Babel and of any framework: the domain (`accounts/`) marks its messages
with `N_` and stays English; the web edge and the mails translate them (`signin.i18n.catalogs`).
How to add a language: docs/i18n.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"

# Catalogue codes (gettext/Babel style). Simplified Chinese is `zh_CN` (Babel: zh_Hans_CN).
LANGUAGES: tuple[str, ...] = ("en", "de", "fr", "es", "pt_BR", "zh_CN", "ja", "ar")
DEFAULT_LANGUAGE = "en"
RIGHT_TO_LEFT = frozenset({"ar"})

# Each language by its own name, for the picker: a reader finds theirs without knowing ours.
NAMES: dict[str, str] = {
    "en": "English",
    "de": "Deutsch",
    "fr": "Français",
    "es": "Español",
    "pt_BR": "Português (Brasil)",
    "zh_CN": "简体中文",
    "ja": "日本語",
    "ar": "العربية",
}


def N_(text: str) -> str:
    """Mark `text` for the catalogue without translating it (gettext_noop)."""
    return text


class Plural(NamedTuple):
    """A message whose words follow a number: English singular and plural msgids (ngettext)."""

    singular: str
    plural: str

    def english(self, n: int) -> str:
        return self.singular if n == 1 else self.plural


def Nn_(singular: str, plural: str) -> Plural:
    """Mark a plural message for the catalogue (ngettext_noop): each language has its forms."""
    return Plural(singular, plural)


def html_lang(code: str) -> str:
    """The BCP 47 tag for `<html lang>` and `Content-Language`: `pt_BR` -> `pt-BR`."""
    return code.replace("_", "-")


def text_direction(code: str) -> str:
    return "rtl" if code in RIGHT_TO_LEFT else "ltr"
