"""Prometheus metrics (SPEC section 15): what is counted, and the text a scrape gets.

Every app has its own `Metrics` on its own registry (tests build many apps in one process).
Under `signin serve --workers N` (N > 1) `serve` points `PROMETHEUS_MULTIPROC_DIR` at an empty
directory before the workers start; prometheus-client then keeps each worker's values in a
memory-mapped file there, and a scrape of any worker sums them all (`MultiProcessCollector`).

Labels are closed sets: sign-in outcomes, forward-auth decisions, lock kinds, route templates
(never a raw path), methods and status classes. No username or address is ever a label.
Incrementing a counter is a few hundred nanoseconds: nothing here awaits or does I/O on a request.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from signin.accounts.lockout import LockInfo

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
HASH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
VERIFY = "/api/v1/verify"
DECISIONS = {200: "allow", 302: "redirect", 401: "deny"}
# Audit events that are also counted: event type -> (counter, label value or "").
SIGN_IN_OUTCOMES = {
    "sign_in": "success",
    "sign_in_failed": "failure",
    "sign_in_locked": "locked",
    "two_factor_required": "two_factor",  # a right password, a second factor due (SPEC 13)
}


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def prepare_multiprocess_dir(path: Path) -> None:
    """An empty directory for the workers' files (stale files of an old run would be summed)."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(mode=0o700, parents=True)
    os.environ[MULTIPROC_ENV] = str(path)


class _Locks(Collector):
    """`signin_locks{kind}`: read from the lock store at scrape time (it is shared already)."""

    def __init__(self, infos: list[LockInfo]) -> None:
        self.infos = infos

    def collect(self) -> list[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "signin_locks", "Usernames and client IPs locked now.", labels=["kind"]
        )
        ips = sum(1 for info in self.infos if info.locked and info.key.startswith("ip:"))
        users = sum(1 for info in self.infos if info.locked) - ips
        family.add_metric(["username"], users)
        family.add_metric(["ip"], ips)
        return [family]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.sign_ins = Counter(
            "signin_sign_ins",
            "Sign-in attempts by outcome.",
            ["outcome"],
            registry=registry,
        )
        for outcome in SIGN_IN_OUTCOMES.values():
            self.sign_ins.labels(outcome)  # every outcome shows, at 0, from the start
        self.sign_ups = Counter("signin_sign_ups", "Accounts created.", registry=registry)
        self.verify = Counter(
            "signin_verify", "Forward-auth checks by decision.", ["decision"], registry=registry
        )
        for decision in ("allow", "deny", "redirect"):
            self.verify.labels(decision)
        self.hash_seconds = Histogram(
            "signin_hash_seconds",
            "Time of one argon2id hash or verification (in the pool thread).",
            buckets=HASH_BUCKETS,
            registry=registry,
        )
        self.hash_queue = Gauge(
            "signin_hash_queue",
            "Password hashes running or waiting.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.requests = Histogram(
            "signin_request_seconds",
            "Request duration by route template, method and status class.",
            ["route", "method", "status"],
            buckets=REQUEST_BUCKETS,
            registry=registry,
        )
        self.oidc_tokens = Counter(
            "signin_oidc_tokens",
            "Tokens issued by the OpenID Connect provider, by grant.",
            ["grant"],
            registry=registry,
        )
        for grant in ("authorization_code", "refresh_token"):
            self.oidc_tokens.labels(grant)
        # (route, method, status class) -> its histogram: labels() costs a lock and a lookup.
        self._children: dict[tuple[str, str, int], Histogram] = {}

    def event(self, type: str) -> None:
        """Count an audit event that is also a metric (`AuditLog`'s listener)."""
        outcome = SIGN_IN_OUTCOMES.get(type)
        if outcome is not None:
            self.sign_ins.labels(outcome).inc()
        elif type == "sign_up":
            self.sign_ups.inc()

    def oidc_token(self, grant: str) -> None:
        self.oidc_tokens.labels(grant).inc()

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        if method not in METHODS:
            method = "other"  # clients pick methods freely: no label per invented method
        key = (route, method, status // 100)
        child = self._children.get(key)
        if child is None:
            child = self.requests.labels(route, method, f"{status // 100}xx")
            self._children[key] = child
        child.observe(seconds)
        if route == VERIFY:
            decision = DECISIONS.get(status)
            if decision is not None:
                self.verify.labels(decision).inc()

    def render(self, locks: list[LockInfo]) -> bytes:
        """The scrape: this process's values (or every worker's), then the live lock counts."""
        path = multiprocess_dir()
        if path is not None:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
            text = generate_latest(registry)
        else:
            text = generate_latest(self.registry)
        extra = CollectorRegistry()
        extra.register(_Locks(locks))
        return text + generate_latest(extra)

    def close(self) -> None:
        """This worker is going: its live gauges no longer count."""
        path = multiprocess_dir()
        if path is not None:
            multiprocess.mark_process_dead(os.getpid(), path)  # type: ignore[no-untyped-call]
