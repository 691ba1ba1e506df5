from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from signin.services import Services, build_services
from tests.support import make_settings, migrated


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    settings = make_settings(tmp_path / "data")
    built = build_services(settings)
    await migrated(settings.sqlalchemy_url)
    try:
        yield built
    finally:
        await built.close()
