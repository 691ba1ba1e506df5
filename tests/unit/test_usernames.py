"""Username rules (SPEC section 4): 3-32 letters (any script), digits, '.', '_', '-' after NFKC."""

from __future__ import annotations

import pytest

from signin.accounts.usernames import username_problems


@pytest.mark.parametrize(
    "name",
    [
        "bob",
        "alice.smith",
        "a_b-c.d",
        "Zoë",
        "Straße",
        "Мария",
        "李小龍",
        "ｂｏｂ",  # full-width becomes ASCII under NFKC
        "\ufb01le",  # the ligature becomes "file"
        "x" * 32,
        "007",
        "नमस्ते",  # combining vowel signs after a letter
        "Zoe\u0308",  # decomposed ë
    ],
)
def test_valid(name: str) -> None:
    assert username_problems(name) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ab", ["username_length"]),
        ("", ["username_length"]),
        ("x" * 33, ["username_length"]),
        ("bob smith", ["username_characters"]),
        ("bob@example", ["username_characters"]),
        ("bob/../x", ["username_characters"]),
        ("<script>", ["username_characters"]),
        ("bob\u200b", ["username_characters"]),  # zero-width space
        ("bob\n", ["username_characters"]),
        ("bob😀", ["username_characters"]),
        ("\u0308bob", ["username_characters"]),  # a mark with nothing to attach to
        ("a!", ["username_length", "username_characters"]),  # every problem at once
        # 22 characters after NFKC, but 66 as typed (the stored, displayed form): too long.
        ("e\u0323\u0302" * 22, ["username_length"]),
    ],
)
def test_invalid(name: str, expected: list[str]) -> None:
    problems = username_problems(name)
    assert [p.code for p in problems] == expected
    assert all(p.field == "username" for p in problems)
