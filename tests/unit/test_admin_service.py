"""The admin service (SPEC 15): its actions, each audited with the administrator's name, and
the week chart drawn as SVG without script."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from babel.lists import format_list
from markupsafe import escape

from signin.accounts.audit import AuditQuery
from signin.accounts.errors import InvalidInput, NotFound
from signin.i18n.catalogs import Catalogs
from signin.services import Services, build_services
from signin.stores import migrate
from signin.web.chart import svg
from tests.support import make_settings

PASSWORD = "correct horse battery"


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    settings = make_settings(tmp_path / "data", lock_max_failures=1)
    built = build_services(settings)  # makes the data dir
    await asyncio.to_thread(migrate.upgrade, settings.sqlalchemy_url)
    try:
        yield built
    finally:
        await built.close()


async def events(services: Services, type: str) -> list[dict[str, object]]:
    found = await services.audit.query(AuditQuery(types=(type,)))
    return [{"user": e.username, **e.details} for e in found]


async def test_user_actions_are_audited_with_the_admin(services: Services) -> None:
    admin = services.admin
    for name in ("root", "Alice", "albert", "bob"):
        await services.registration.sign_up(name, PASSWORD, f"{name.lower()}@example.com")
    assert [u.username for u in await admin.find_users("AL")] == ["albert", "Alice"]
    assert [u.username for u in await admin.find_users("bob@EXAMPLE.com")] == ["bob"]
    assert [u.username for u in await admin.find_users("%")] == []  # LIKE wildcards are text
    assert len(await admin.find_users("")) == 4

    await admin.set_disabled("root", "alice", True)
    assert (await services.users.by_canon("alice")).disabled  # type: ignore[union-attr]
    await admin.set_disabled("root", "alice", False)
    await admin.delete("root", "bob")
    assert await services.users.by_canon("bob") is None
    token = await admin.reset_link("root", "albert")
    assert len(token) > 20
    assert await events(services, "user_disabled") == [{"user": "alice", "by": "root"}]
    assert await events(services, "user_enabled") == [{"user": "alice", "by": "root"}]
    assert await events(services, "user_deleted") == [{"user": "bob", "by": "root"}]
    assert await events(services, "password_reset_requested") == [
        {"user": "albert", "link": True, "by": "root"}
    ]
    assert token not in str(await services.audit.query(AuditQuery()))

    with pytest.raises(InvalidInput):
        await admin.set_disabled("root", "ROOT", True)
    with pytest.raises(InvalidInput):
        await admin.delete("root", "root")
    with pytest.raises(NotFound):
        await admin.delete("root", "nobody")


async def test_locks_and_sessions(services: Services) -> None:
    admin = services.admin
    user = await services.registration.sign_up("carol", PASSWORD)
    issued = await services.sessions.issue(user.id, remember=False, ip="192.0.2.8", user_agent="x")
    rows = await admin.sessions_list()
    assert [(r.username, r.record.id) for r in rows] == [("carol", issued.record.id)]
    assert [r.record.id for r in await admin.sessions_list("CAROL")] == [issued.record.id]
    await admin.end_session("root", "carol", issued.record.id)
    assert await services.sessions.resolve(issued.token) is None
    with pytest.raises(NotFound):
        await admin.end_session("root", "carol", issued.record.id)
    assert await events(services, "session_ended") == [
        {"user": "carol", "session": issued.record.id, "by": "root"}
    ]

    await services.lock_store.reserve("mallory", services.clock(), 600)
    await services.lock_store.reserve("mallory", services.clock(), 600)
    assert [lock.key for lock in await admin.locks() if lock.locked] == ["mallory"]
    assert await admin.clear_lock("root", "mallory") is True
    assert await admin.clear_lock("root", "mallory") is False
    with pytest.raises(InvalidInput):
        await admin.clear_lock("root", "ip:not-an-address")
    assert await events(services, "lock_cleared") == [
        {"user": "mallory", "key": "mallory", "by": "root"}
    ]


async def test_week_chart_counts_and_draws_without_script(services: Services) -> None:
    services.audit.record("sign_in", "a")
    services.audit.record("sign_in", "a")
    services.audit.record("sign_in_failed", "a")
    hourly = await services.admin.hourly()
    assert {kind: len(values) for kind, values in hourly.counts.items()} == {
        "sign_in": 168,
        "sign_in_failed": 168,
        "sign_in_locked": 168,
    }
    assert hourly.counts["sign_in"][-1] == 2
    assert sum(hourly.counts["sign_in_failed"]) == 1
    drawn = str(svg(hourly, Catalogs().get("en")))
    assert drawn.startswith("<svg")
    assert drawn.endswith("</svg>")
    assert 'data-series="sign_in" data-total="2"' in drawn
    assert 'data-series="sign_in_failed" data-total="1"' in drawn
    assert "<script" not in drawn
    assert "href" not in drawn
    assert " style=" not in drawn


@pytest.mark.parametrize("language", ["en", "ar", "ja", "zh_CN", "de"])
async def test_week_chart_reads_left_to_right_and_lists_totals_in_the_language(
    services: Services, language: str
) -> None:
    services.audit.record("sign_in", "a")
    services.audit.record("sign_in_failed", "a")
    speak = Catalogs().get(language)
    drawn = str(svg(await services.admin.hourly(), speak))
    # A right-to-left page does not turn the chart's text around its anchors.
    assert drawn.startswith(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 760 240" direction="ltr"'
    )
    texts = re.findall(r"<text [^>]*>", drawn)
    assert len(texts) == 5 + 7 + 3  # axis levels, days, legends
    assert all("text-anchor=" in tag for tag in texts), texts
    # The summary joins its parts as the language does (not with an English ", ").
    desc = re.search(r'<desc id="chart-desc">(.*)</desc>', drawn)
    assert desc is not None
    parts = [
        f"1 {speak.gettext('sign-ins')}",
        f"1 {speak.gettext('failures')}",
        f"0 {speak.gettext('refused while locked')}",
    ]
    listed = str(escape(format_list(parts, locale=speak.locale)))
    assert listed in desc.group(1)
    if language in ("ar", "ja", "zh_CN"):
        assert ", " not in desc.group(1)
