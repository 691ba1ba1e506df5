"""The forward-auth rules file (`SIGNIN_ACCESS_RULES`): TOML `[[rule]]` tables, read and checked.

```toml
[[rule]]
hosts = ["wiki.example.com", "*.apps.example.com"]   # exact, `*.domain`, or "*" for any host
paths = ["^/admin(/|$)"]       # optional; regular expressions, matched from the path's start
methods = ["POST", "DELETE"]   # optional
policy = "signed_in"           # bypass | signed_in | two_factor | deny
groups = ["admins"]            # optional, with `users`: any match grants
users = ["alice"]
```

Every mistake stops the load with one line naming the file and the rule's number (`RulesError`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signin.accounts.access.groups import GROUP_RE
from signin.accounts.errors import SigninError
from signin.accounts.tomlfile import read_toml
from signin.accounts.usernames import canon

POLICIES = ("bypass", "signed_in", "two_factor", "deny")
KEYS = frozenset({"hosts", "paths", "methods", "policy", "groups", "users"})
METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}
)
_LABEL = r"[a-z0-9]([a-z0-9-]*[a-z0-9])?"
HOST_RE = re.compile(rf"(\*\.)?{_LABEL}(\.{_LABEL})*(:\d{{1,5}})?|\*")


class RulesError(SigninError):
    """The access rules file is not valid."""

    code = "access_rules"


@dataclass(frozen=True)
class Rule:
    number: int  # 1-based, as the file lists it
    hosts: tuple[str, ...]
    paths: tuple[str, ...]
    methods: frozenset[str]  # empty: every method
    policy: str
    groups: frozenset[str]
    users: frozenset[str]  # canonical usernames
    path_res: tuple[re.Pattern[str], ...]  # the `paths`, compiled; empty: every path

    def matches_path(self, path: str | None) -> bool:
        """Whether a normalized path (None: unknown) is one of this rule's paths."""
        if not self.path_res:
            return True
        return path is not None and any(regex.match(path) for regex in self.path_res)

    @property
    def restricted(self) -> bool:
        """True when only some users (`groups`/`users`) may pass."""
        return bool(self.groups or self.users)

    def describe(self) -> str:
        parts = [f"rule {self.number}: hosts={list(self.hosts)}"]
        if self.paths:
            parts.append(f"paths={list(self.paths)}")
        if self.methods:
            parts.append(f"methods={sorted(self.methods)}")
        parts.append(f"policy={self.policy}")
        if self.groups:
            parts.append(f"groups={sorted(self.groups)}")
        if self.users:
            parts.append(f"users={sorted(self.users)}")
        return " ".join(parts)


def load_rules(path: Path) -> list[Rule]:
    """Read and check the file; `RulesError` (one line) on the first problem."""
    return parse_rules(read_toml(path, RulesError), str(path))


def parse_rules(data: dict[str, Any], source: str) -> list[Rule]:
    extra = set(data) - {"rule"}
    if extra:
        raise RulesError(f"{source}: unknown top-level key {sorted(extra)[0]!r} (use [[rule]])")
    tables = data.get("rule", [])
    if not isinstance(tables, list):
        raise RulesError(f"{source}: 'rule' must be an array of tables: write [[rule]]")
    rules = []
    for number, table in enumerate(tables, start=1):
        try:
            rules.append(_rule(number, table))
        except ValueError as exc:
            raise RulesError(f"{source}: rule {number}: {exc}") from None
    return rules


def _rule(number: int, table: Any) -> Rule:
    if not isinstance(table, dict):
        raise ValueError("must be a table")
    unknown = set(table) - KEYS
    if unknown:
        raise ValueError(f"unknown key {sorted(unknown)[0]!r}")
    hosts = tuple(host.lower() for host in _strings(table, "hosts", required=True))
    for host in hosts:
        if not HOST_RE.fullmatch(host):
            raise ValueError(f"hosts: {host!r} is not a host name, *.domain or *")
    paths = _strings(table, "paths")
    try:
        path_res = tuple(re.compile(pattern) for pattern in paths)
    except re.error as exc:
        raise ValueError(f"paths: not a regular expression: {exc}") from None
    methods = frozenset(method.upper() for method in _strings(table, "methods"))
    if methods - METHODS:
        raise ValueError(f"methods: unknown method {sorted(methods - METHODS)[0]!r}")
    policy = table.get("policy")
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {', '.join(POLICIES)} (got {policy!r})")
    groups = frozenset(_strings(table, "groups"))
    for group in groups:
        if not GROUP_RE.fullmatch(group):
            raise ValueError(f"groups: {group!r} is not a group name ([a-z0-9_-]{{1,32}})")
    users = frozenset(canon(user) for user in _strings(table, "users"))
    if (groups or users) and policy in ("bypass", "deny"):
        raise ValueError(f"groups and users have no meaning with policy {policy!r}")
    return Rule(number, hosts, paths, methods, policy, groups, users, path_res)


def _strings(table: dict[str, Any], key: str, *, required: bool = False) -> tuple[str, ...]:
    value = table.get(key)
    if value is None:
        if required:
            raise ValueError(f"{key} is required")
        return ()
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(item, str) and item for item in value)
    ):
        raise ValueError(f"{key} must be a non-empty list of non-empty strings")
    return tuple(value)
