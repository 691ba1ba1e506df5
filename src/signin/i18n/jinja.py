"""Jinja2's i18n extension, translating into the language of the page or mail being rendered.

One Jinja environment serves every request at once, so the language cannot be installed on it.
The installed `gettext`/`ngettext` read the translator of the current render from a context
variable instead: each request runs in its own asyncio task (its own context), and a template
renders synchronously inside `rendering()`. Templates write `{{ _("Text") }}`,
`{{ _("Hello %(name)s", name=user) }}` or `{% trans %}...{% endtrans %}` (newstyle gettext:
placeholders are filled, and escaped in HTML, by the call itself). Outside `rendering()` the
text stays English, as with `install_null_translations(newstyle=True)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the mail letters import this module; the CLI seldom renders one
    from jinja2 import Environment

    from signin.i18n.catalogs import Translator

_current: ContextVar[Translator | None] = ContextVar("signin_translator", default=None)


def _gettext(message: str) -> str:
    translator = _current.get()
    return translator.gettext(message) if translator is not None else message


def _ngettext(singular: str, plural: str, n: int) -> str:
    translator = _current.get()
    if translator is not None:
        return translator.ngettext(singular, plural, n)
    return singular if n == 1 else plural


def install(env: Environment) -> None:
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]


@contextmanager
def rendering(translator: Translator) -> Iterator[None]:
    token = _current.set(translator)
    try:
        yield
    finally:
        _current.reset(token)


def current() -> Translator | None:
    return _current.get()


def render_in(translator: Translator, env: Environment, name: str, context: dict[str, Any]) -> str:
    with rendering(translator):
        return env.get_template(name).render(context)
