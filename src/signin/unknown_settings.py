"""`SIGNIN_*` variables that no setting reads: a typo would otherwise be silently ignored.

`signin serve` prints one warning line naming them, each with the setting it may mean.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping

from signin.settings import Settings

# Read by the test suite, `.ci/run` and the scripts, not by the service: not typos.
TOOL_VARIABLES = frozenset(
    {"SIGNIN_TEST_POSTGRES_URL", "SIGNIN_TEST_REDIS_URL", "SIGNIN_REQUIRE_ALL", "SIGNIN_VENV"}
)


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """`SIGNIN_*` names in the environment that no setting reads (a typo is silently ignored)."""
    environ = os.environ if environ is None else environ
    known = {f"SIGNIN_{name.upper()}" for name in Settings.model_fields} | TOOL_VARIABLES
    return sorted(name for name in environ if name.startswith("SIGNIN_") and name not in known)


def unknown_variables_warning(environ: Mapping[str, str] | None = None) -> str | None:
    """One line naming every unknown `SIGNIN_*` variable, with the setting each one may mean."""
    unknown = unknown_variables(environ)
    if not unknown:
        return None
    known = sorted(f"SIGNIN_{name.upper()}" for name in Settings.model_fields)
    named = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
        named.append(f"{name} (did you mean {close[0]}?)" if close else name)
    return "unknown setting ignored: " + ", ".join(named)
