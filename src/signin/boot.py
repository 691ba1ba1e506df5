"""What every entry point reads from the settings before it builds anything else.

The key ring (the secret key file is made on first start) and the compiled access rules: a bad
key or rules file stops `signin serve` and any admin command with one line. Kept apart from
`services.py` because it is light: the CLI's SQLite reads (cli/common.py) check the same
things without importing the stores.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from signin.accounts.access.gate import Gate
from signin.accounts.access.rules import load_rules
from signin.crypto.keys import KeyRing, load_or_create_key_file

if TYPE_CHECKING:
    from signin.settings import Settings


def key_ring(settings: Settings) -> KeyRing:
    current = settings.secret_key or load_or_create_key_file(settings.data_dir)
    return KeyRing(current, tuple(settings.secret_key_fallbacks))


def build_gate(settings: Settings) -> Gate:
    """The compiled forward-auth rules; `RulesError` (one line) for a bad file."""
    rules = load_rules(settings.access_rules) if settings.access_rules is not None else []
    return Gate(rules, settings.access_default)
