"""Look-alike usernames: UTS #39 skeletons and mixed scripts (SPEC section 16)."""

from __future__ import annotations

import pytest

from signin.accounts.lookalikes import is_mixed_script, skeleton
from signin.accounts.usernames import username_problems


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("admin", "Admin"),  # case, as the canon
        ("coco", "сосо"),  # all Cyrillic с and о
        ("paypal", "раураl"),  # Cyrillic р, а, у
        ("admin1", "adminl"),  # digit one and small L
        ("ADMlN", "ADMIN"),  # small L and capital I
        ("modern", "rnodern"),  # m and r-n
        ("bob", "ｂｏｂ"),  # fullwidth (NFKC)
    ],
)
def test_look_alikes_share_a_skeleton(one: str, other: str) -> None:
    assert skeleton(one) == skeleton(other)


@pytest.mark.parametrize(("one", "other"), [("alice", "alicia"), ("Zoë", "Zoe"), ("bob", "bab")])
def test_different_names_keep_different_skeletons(one: str, other: str) -> None:
    assert skeleton(one) != skeleton(other)


@pytest.mark.parametrize("name", ["аdmin", "раураl", "paypаl", "αlpha"])
def test_latin_mixed_with_another_alphabet_is_mixed(name: str) -> None:
    assert is_mixed_script(name)
    assert [p.code for p in username_problems(name)] == ["username_mixed_script"]


ONE_SCRIPT = ["admin", "Zoë", "Straße", "сосо", "αβγ", "देवनागरी", "b_1.x-2"]
ONE_SCRIPT += ["山田たろう", "田中タロウ"]  # Han with kana: Japanese names


@pytest.mark.parametrize("name", ONE_SCRIPT)
def test_one_script_or_a_han_set_is_not_mixed(name: str) -> None:
    assert not is_mixed_script(name)
    assert username_problems(name) == []
