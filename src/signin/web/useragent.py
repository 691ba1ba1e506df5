"""A short, human name for a User-Agent string ("Firefox on Linux"), for the sessions list.

Deliberately coarse: it only helps a person recognise their own devices; the full string is
kept for the tooltip.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from signin.i18n import N_

if TYPE_CHECKING:
    from signin.i18n.catalogs import Translator

# Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari".
_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chromium/", "Chromium"),
    ("HeadlessChrome/", "Chrome (headless)"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
    ("curl/", "curl"),
    ("python-httpx/", "httpx"),
    ("python-requests/", "requests"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def describe_user_agent(user_agent: str | None, speak: Translator | None = None) -> str:
    """ "Firefox on Linux"; in `speak`'s language when given (the CLI stays English)."""
    say = speak.text if speak is not None else _english
    if not user_agent:
        return say(N_("unknown"), None)
    browser = next((name for marker, name in _BROWSERS if marker in user_agent), None)
    system = next((name for marker, name in _SYSTEMS if marker in user_agent), None)
    if browser and system:
        return say(N_("%(browser)s on %(system)s"), {"browser": browser, "system": system})
    return browser or system or user_agent[:40]


def _english(message: str, params: Mapping[str, Any] | None) -> str:
    return message % params if params else message
