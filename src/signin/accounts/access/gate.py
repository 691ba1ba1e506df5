"""The forward-auth decision: compiled rules, first match decides (SPEC section 12).

The rules are indexed by host once, at start: exact hosts in a dict, `*.domain` suffixes and `*`
in short lists. The candidate rules of a host (in file order) are computed on its first request
and kept, so a check tests only the rules that name its host, each by a frozenset lookup for the
method and one compiled regular expression (all of a rule's `paths` in one) for the path.
"""

from __future__ import annotations

import enum
import posixpath
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import unquote

from signin.accounts.access.rules import Rule
from signin.accounts.usernames import canon

HOST_CACHE_MAX = 4096  # distinct hosts remembered; past this the memo starts again


class Who(Protocol):
    """A signed-in user as the rules see them (a `SessionUser`, or a `UserRecord` in the CLI)."""

    @property
    def username(self) -> str: ...
    @property
    def groups(self) -> tuple[str, ...]: ...


class Outcome(enum.Enum):
    ALLOW = "allow"  # 200 with the identity headers
    BYPASS = "bypass"  # 200 without them
    SIGN_IN = "sign_in"  # anonymous: 401, or 302 to the sign-in page
    STEP_UP = "step_up"  # signed in without the second factor the rule asks for
    FORBIDDEN = "forbidden"  # 403


@dataclass(frozen=True, slots=True)
class Target:
    """What the proxy is about to forward: host (maybe with a port), path, method."""

    host: str
    path: str | None  # None when the proxy did not say: only rules without `paths` match
    method: str = "GET"


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    rule: Rule | None  # None: no rule matched, the default policy decided
    policy: str


def normalize_path(raw: str) -> str:
    """The path as the app will see it: query dropped, %-escapes decoded, `.`/`..`/`//` resolved.

    Matching the raw path would let `/public/../admin` pass a `bypass` rule for `^/public/`.
    """
    path = unquote(raw.split("?", 1)[0].split("#", 1)[0])
    if not path.startswith("/"):
        path = "/" + path
    normal = posixpath.normpath(path)
    normal = "/" + normal.lstrip("/")
    if path.endswith("/") and normal != "/":
        normal += "/"
    return normal


class Gate:
    def __init__(self, rules: list[Rule], default: str) -> None:
        self.rules = rules
        self.default = default
        self.exact: dict[str, list[Rule]] = {}
        self.suffixes: list[tuple[str, Rule]] = []
        self.anywhere: list[Rule] = []
        for rule in rules:
            for host in rule.hosts:
                if host == "*":
                    self.anywhere.append(rule)
                elif host.startswith("*."):
                    self.suffixes.append((host[1:], rule))
                else:
                    self.exact.setdefault(host, []).append(rule)
        self._by_host: dict[str, tuple[Rule, ...]] = {}

    @property
    def trivial(self) -> bool:
        """No rules and the default of old: a check needs no target at all."""
        return not self.rules and self.default == "signed_in"

    def protects_hosts(self) -> bool:
        return any(rule.policy != "bypass" for rule in self.rules) or self.default != "bypass"

    def candidates(self, host: str) -> tuple[Rule, ...]:
        found = self._by_host.get(host)
        if found is None:
            found = self._candidates(host.lower())
            if len(self._by_host) >= HOST_CACHE_MAX:
                self._by_host.clear()
            self._by_host[host] = found
        return found

    def _candidates(self, host: str) -> tuple[Rule, ...]:
        bare = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        names = {host, bare}
        chosen: set[int] = set()
        picked: list[Rule] = []
        matches = [rule for name in names for rule in self.exact.get(name, ())]
        matches += [
            rule for suffix, rule in self.suffixes if any(n.endswith(suffix) for n in names)
        ]
        matches += self.anywhere
        for rule in sorted(matches, key=lambda r: r.number):
            if rule.number not in chosen:
                chosen.add(rule.number)
                picked.append(rule)
        return tuple(picked)

    def match(self, target: Target) -> Rule | None:
        """The first rule for this request, or None."""
        path = normalize_path(target.path) if target.path is not None else None
        for rule in self.candidates(target.host):
            if rule.methods and target.method not in rule.methods:
                continue
            if rule.path_re is not None and (path is None or rule.path_re.match(path) is None):
                continue
            return rule
        return None

    def decide(self, target: Target, user: Who | None, *, two_factor: bool) -> Decision:
        """The answer for `user` (None: anonymous); `two_factor`: the session has one."""
        rule = self.match(target)
        policy = rule.policy if rule is not None else self.default
        return Decision(outcome(policy, rule, user, two_factor), rule, policy)


def outcome(policy: str, rule: Rule | None, user: Who | None, two_factor: bool) -> Outcome:
    if policy == "bypass":
        return Outcome.BYPASS
    if policy == "deny":
        return Outcome.FORBIDDEN
    if user is None:
        return Outcome.SIGN_IN
    if rule is not None and rule.restricted and not admitted(rule, user):
        return Outcome.FORBIDDEN
    if policy == "two_factor" and not two_factor:
        return Outcome.STEP_UP
    return Outcome.ALLOW


def admitted(rule: Rule, user: Who) -> bool:
    if rule.groups and not rule.groups.isdisjoint(user.groups):
        return True
    return bool(rule.users) and canon(user.username) in rule.users
