"""Schema migrations (Alembic), applied by `signin serve` and `signin db upgrade`."""

from __future__ import annotations

from dataclasses import dataclass

from alembic import command
from alembic.config import Config


@dataclass(frozen=True)
class Upgrade:
    """The schema revision before and after an upgrade (`before` is None for a new database)."""

    before: str | None
    after: str | None

    def describe(self) -> str:
        if self.before is None:
            return f"created the database schema at revision {self.after}"
        if self.before != self.after:
            return f"upgraded the database schema from revision {self.before} to {self.after}"
        return f"database schema is up to date (revision {self.after})"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "signin.stores:migrations")
    config.attributes["url"] = url
    return config


def upgrade(url: str) -> Upgrade:
    """Bring the database at `url` to the newest schema (blocking; not on the event loop)."""
    config = alembic_config(url)
    command.upgrade(config, "head")
    return Upgrade(config.attributes.get("before"), config.attributes.get("after"))
