"""Schema migrations (Alembic), applied by `signin serve` and `signin db upgrade`."""

from __future__ import annotations

from alembic import command
from alembic.config import Config


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "signin.stores:migrations")
    config.attributes["url"] = url
    return config


def upgrade(url: str) -> None:
    """Bring the database at `url` to the newest schema (blocking; not on the event loop)."""
    command.upgrade(alembic_config(url), "head")
