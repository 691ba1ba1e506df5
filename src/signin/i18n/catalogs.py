"""The shipped `.po` catalogues, compiled in memory on first use, and a translator per language.

No compiled `.mo` file is shipped or written: the first request (or mail) in a language reads its
`.po` with Babel, compiles it into memory and keeps it. Babel is imported here only, inside the
methods, so the command line (which never translates) starts without it.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from signin.accounts.errors import Seconds
from signin.i18n import (
    DEFAULT_LANGUAGE,
    DOMAIN,
    LANGUAGES,
    LOCALE_DIR,
    Plural,
    html_lang,
    text_direction,
)

if TYPE_CHECKING:
    from babel import Locale
    from babel.support import Translations

# The units a duration may be said in, largest first (months and years never divide exactly).
Unit = Literal["week", "day", "hour", "minute", "second"]
UNITS: tuple[tuple[Unit, int], ...] = (
    ("week", 7 * 86400),
    ("day", 86400),
    ("hour", 3600),
    ("minute", 60),
)


def compile_catalogue(po_path: Path) -> tuple[Translations, frozenset[str]]:
    """A `.po` file read and compiled to a gettext catalogue in memory (no `.mo` on disk), and
    the set of its messages (singular msgids)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    with po_path.open("rb") as source:
        catalogue = read_po(source)
    buffer = io.BytesIO()
    write_mo(buffer, catalogue, use_fuzzy=False)
    buffer.seek(0)
    ids = frozenset(m.id if isinstance(m.id, str) else m.id[0] for m in catalogue if m.id)
    return Translations(buffer, domain=DOMAIN), ids


class Translator:
    """One language: gettext, and numbers, dates and durations the way its readers write them."""

    def __init__(
        self,
        language: str,
        translations: Translations,
        locale: Locale,
        known: frozenset[str] = frozenset(),
    ) -> None:
        self.language = language
        self.translations = translations
        self.known = known  # every message of the catalogue, translated or not
        self.locale = locale
        self.html_lang = html_lang(language)
        self.direction = text_direction(language)

    def gettext(self, message: str) -> str:
        return str(self.translations.gettext(message))

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return str(self.translations.ngettext(singular, plural, n))

    def text(
        self, message: str | Plural, params: Mapping[str, Any] | None = None, count: str = ""
    ) -> str:
        """`message` translated, its `%(name)s` placeholders filled with `params` said here;
        a `Plural` in the form its language uses for the number `params[count]`."""
        if isinstance(message, Plural):
            n = int((params or {})[count])
            translated = self.ngettext(message.singular, message.plural, n)
        else:
            translated = self.gettext(message)
        if not params:
            return translated
        return translated % {name: self.value(value) for name, value in params.items()}

    def value(self, value: Any) -> Any:
        if isinstance(value, Seconds):
            return self.duration(int(value))
        return value

    def duration(self, seconds: int) -> str:
        """`600` -> "10 minutes" / "10 Minuten" / "10 دقائق", in the largest unit that divides
        `seconds` exactly (5400 is "90 minutes", 30 days "30 days"): never rounded, so a wait
        or a link's lifetime is said as it is, not longer or shorter."""
        from babel.dates import format_timedelta

        unit: Unit = next(
            (name for name, size in UNITS if seconds and seconds % size == 0), "second"
        )
        return str(
            format_timedelta(
                timedelta(seconds=seconds),
                granularity=unit,
                threshold=math.inf,  # no larger unit: the granularity unit is the one said
                format="long",
                locale=self.locale,
            )
        )

    def datetime(self, timestamp: float | None, empty: str = "") -> str:
        """A moment (Unix time) as this language writes it, in UTC, with the zone named."""
        if timestamp is None:
            return empty
        from babel.dates import format_datetime

        moment = datetime.fromtimestamp(timestamp, UTC)
        return str(format_datetime(moment, format="medium", tzinfo=UTC, locale=self.locale)) + (
            " UTC"
        )

    def day(self, timestamp: float) -> str:
        """A short weekday and day of the month ("Mon 7", "Mo., 7."), for chart axes."""
        from babel.dates import format_skeleton

        moment = datetime.fromtimestamp(timestamp, UTC)
        return str(format_skeleton("EEEd", moment, locale=self.locale))


class Catalogs:
    """Every supported language's translator, each built on first use and then kept."""

    def __init__(self, directory: Path = LOCALE_DIR, default: str = DEFAULT_LANGUAGE) -> None:
        self.directory = directory
        self.default = default
        self._built: dict[str, Translator] = {}
        self._lock = threading.Lock()

    def get(self, language: str | None) -> Translator:
        code = language if language in LANGUAGES else self.default
        found = self._built.get(code)
        if found is None:
            with self._lock:  # mails render in worker threads too: build each one once
                found = self._built.get(code) or self._build(code)
                self._built[code] = found
        return found

    def _build(self, code: str) -> Translator:
        from babel import Locale
        from babel.support import NullTranslations

        po = self.directory / code / "LC_MESSAGES" / f"{DOMAIN}.po"
        if not po.is_file():
            return Translator(code, NullTranslations(), Locale.parse(code))  # type: ignore[arg-type]
        translations, known = compile_catalogue(po)
        return Translator(code, translations, Locale.parse(code), known)
