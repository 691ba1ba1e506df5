"""Jinja's i18n extension in the language of each render, on one shared environment."""

from __future__ import annotations

import asyncio

from jinja2 import DictLoader, Environment, select_autoescape

from signin.i18n.catalogs import Catalogs
from signin.i18n.jinja import install, render_in, rendering

PAGE = (
    '<h1>{{ _("Sign in") }}</h1><p>{% trans name=who %}Signed in as <strong>{{ name }}</strong>.'
    "{% endtrans %}</p>"
)


def environment() -> Environment:
    env = Environment(
        loader=DictLoader({"page.html": PAGE}), autoescape=select_autoescape(["html"])
    )
    env.policies["ext.i18n.trimmed"] = True
    install(env)
    return env


def test_outside_a_render_the_text_stays_english() -> None:
    """As with install_null_translations(newstyle=True): the same templates work unchanged."""
    html = environment().get_template("page.html").render(who="<b>x</b>")
    assert html == ("<h1>Sign in</h1><p>Signed in as <strong>&lt;b&gt;x&lt;/b&gt;</strong>.</p>")


def test_a_render_speaks_its_translators_language() -> None:
    german = Catalogs().get("de")
    html = render_in(german, environment(), "page.html", {"who": "Zoë"})
    assert html == "<h1>Anmelden</h1><p>Angemeldet als <strong>Zoë</strong>.</p>"


async def test_concurrent_renders_keep_their_own_language() -> None:
    """Each request is its own task: one's language never leaks into another's render."""
    env, catalogs = environment(), Catalogs()
    seen: dict[str, list[str]] = {"de": [], "ar": []}

    async def render_many(code: str) -> None:
        for _ in range(20):
            with rendering(catalogs.get(code)):
                await asyncio.sleep(0)  # let the other task run in between
                seen[code].append(env.get_template("page.html").render(who="a"))

    await asyncio.gather(render_many("de"), render_many("ar"))
    assert all(html.startswith("<h1>Anmelden</h1>") for html in seen["de"])
    assert all(html.startswith("<h1>تسجيل الدخول</h1>") for html in seen["ar"])
