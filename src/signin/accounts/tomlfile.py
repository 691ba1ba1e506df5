"""Reading the operator's TOML files (access rules, OIDC clients) with one-line errors."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from signin.accounts.errors import SigninError


def read_toml(path: Path, error: type[SigninError]) -> dict[str, Any]:
    """The file's tables; `error` in one line naming the file when it is unreadable or not TOML."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{path}: not valid TOML: {exc}") from None
