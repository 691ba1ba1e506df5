"""Group names (`[a-z0-9_-]{1,32}`) and the admin's group changes."""

from __future__ import annotations

import re
from collections.abc import Iterable

from signin.accounts.errors import InvalidInput, NotFound, Problem
from signin.accounts.usernames import canon
from signin.i18n import N_
from signin.stores.base import UserStore

GROUP_RE = re.compile(r"[a-z0-9_-]{1,32}")
MAX_GROUPS = 32  # the stored list is one column of at most 1,200 characters


def group_problems(names: Iterable[str], field: str = "groups") -> list[Problem]:
    return [
        Problem(
            "group_name",
            field,
            N_("Group name %(name)r is not valid: use 1 to 32 of a-z, 0-9, '_' and '-'."),
            {"name": name},
        )
        for name in names
        if not GROUP_RE.fullmatch(name)
    ]


def check_groups(names: Iterable[str]) -> tuple[str, ...]:
    """The names, sorted and without repeats; `InvalidInput` if any is not a group name."""
    unique = tuple(sorted(set(names)))
    problems = group_problems(unique)
    if len(unique) > MAX_GROUPS:
        problems.append(
            Problem("too_many_groups", "groups", N_("At most %(max)d groups."), {"max": MAX_GROUPS})
        )
    if problems:
        raise InvalidInput(problems)
    return unique


class Groups:
    def __init__(self, users: UserStore) -> None:
        self.users = users

    async def change(
        self, username: str, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> tuple[str, ...]:
        """Add, then remove groups; the user's groups after the change (from the next check)."""
        added, removed = check_groups(add), check_groups(remove)
        user = await self.users.by_canon(canon(username))
        if user is None:
            raise NotFound(N_("No account named %(username)r."), username=username)
        if len(set(user.groups) | set(added)) > MAX_GROUPS:
            raise InvalidInput(
                [
                    Problem(
                        "too_many_groups",
                        "groups",
                        N_("At most %(max)d groups."),
                        {"max": MAX_GROUPS},
                    )
                ]
            )
        return await self.users.change_groups(user.id, added, removed)
