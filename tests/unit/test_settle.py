"""A served app sets start-up's objects aside from the garbage collector; other apps do not.

`app.settle` is what keeps full collections (150-250 ms on the bench machine) out of the
PostgreSQL + Redis check path (bench/FINDINGS-scaleout.md, S8). These tests check that it runs
where it should and leaves the collector working; the speed itself is measured in bench/.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from signin.app import create_app, serve_app, settle
from tests.support import make_settings, migrated


@pytest.fixture
def collector() -> Iterator[None]:
    """The collector as the test found it: nothing frozen, the default thresholds."""
    thresholds = gc.get_threshold()
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()  # this test process builds many apps: none may stay frozen
        gc.set_threshold(*thresholds)


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_settle_freezes_what_exists_and_raises_the_young_mark(collector: None) -> None:
    assert gc.get_freeze_count() == 0
    settle()
    assert gc.get_freeze_count() > 10_000  # imports alone leave far more than this
    assert gc.get_threshold()[0] == 20_000
    # What is made afterwards is still collected, cycles included.
    made = weakref.ref(Cycle())
    assert made() is not None  # a cycle: reference counting alone never frees it
    gc.collect()
    assert made() is None
    assert gc.get_freeze_count() > 10_000


async def test_the_served_app_settles_once_started(
    collector: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGNIN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SIGNIN_ARGON2_MEMORY_KIB", "8")
    app = serve_app()
    await migrated(app.state.services.settings.sqlalchemy_url)
    assert gc.get_freeze_count() == 0  # building it freezes nothing
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > 10_000
        assert gc.get_threshold()[0] == 20_000


async def test_an_app_built_by_hand_leaves_the_collector_alone(
    collector: None, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path / "data")
    await migrated(settings.sqlalchemy_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == (700, 10, 10)
