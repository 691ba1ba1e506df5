"""The committed `static/js/casefold.js` is exactly what `tools/gen_casefold.py` makes."""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from types import ModuleType

from tests.support import REPO

TABLE = REPO / "src/signin/web/static/js/casefold.js"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_casefold", REPO / "tools/gen_casefold.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_table_is_the_generator_output() -> None:
    committed = TABLE.read_text(encoding="utf-8")
    assert f'unicodeVersion: "{unicodedata.unidata_version}"' in committed, (
        "casefold.js was made with another Unicode version: run python tools/gen_casefold.py"
    )
    assert generator().render() == committed, (
        "casefold.js is stale: run python tools/gen_casefold.py"
    )


def test_runs_and_multi_cover_every_casefold_difference() -> None:
    """Decode the runs as password.js does and compare with str.casefold on every code point."""
    gen = generator()
    single, multi = gen.foldings()
    decoded: dict[int, str] = {}
    for start, count, step, delta in gen.runs(single):
        for k in range(count):
            decoded[start + k * step] = chr(start + k * step + delta)
    decoded.update(multi)
    expected = {c: chr(c).casefold() for c in range(0x110000) if chr(c).casefold() != chr(c)}
    assert decoded == expected
    assert (decoded[0xDF], decoded[0x3C2], decoded[0xAB70]) == ("ss", "σ", "\u13a0")


def test_table_is_ascii_and_has_no_logic() -> None:
    text = TABLE.read_text(encoding="utf-8")
    assert text.isascii()
    assert re.search(r"\bfunction\b|=>", text) is None
