"""The batched audit writer: no await on record, one write per batch, nothing lost on close."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from signin.accounts.audit import ORIGIN, AuditEvent, AuditLog, AuditQuery, Origin

NOW = 1_800_000_000.0


class MemoryStore:
    def __init__(self) -> None:
        self.batches: list[list[AuditEvent]] = []
        self.pruned: list[float] = []
        self.fail = False

    async def append(self, events: Sequence[AuditEvent]) -> None:
        if self.fail:
            raise OSError("disk gone")
        self.batches.append(list(events))

    async def query(self, query: AuditQuery) -> list[AuditEvent]:
        found = [e for batch in self.batches for e in batch]
        return [e for e in reversed(found) if query.username in (None, e.username)]

    async def hourly(self, types: Sequence[str], since: float) -> dict[tuple[str, int], int]:
        return {}

    async def prune(self, before: float) -> int:
        self.pruned.append(before)
        return 0


def make(store: MemoryStore, **kwargs: float) -> AuditLog:
    return AuditLog(store, keep_days=90, clock=lambda: NOW, **kwargs)  # type: ignore[arg-type]


async def test_record_returns_at_once_and_one_write_takes_the_batch() -> None:
    store = MemoryStore()
    log = make(store, flush_seconds=0.05)
    for i in range(100):
        log.record("sign_in", f"user{i}")
    assert store.batches == []  # nothing written on the caller's time
    for _ in range(100):
        if store.batches:
            break
        await asyncio.sleep(0.02)
    assert len(store.batches) == 1
    assert len(store.batches[0]) == 100
    await log.close()


async def test_close_writes_what_is_pending_and_prunes_by_retention() -> None:
    store = MemoryStore()
    log = make(store, flush_seconds=60)
    log.record("sign_out", "alice")
    await log.close()
    assert [e.type for e in store.batches[0]] == ["sign_out"]
    assert store.pruned == [NOW - 90 * 86400]


async def test_origin_and_actor_come_from_the_context() -> None:
    store = MemoryStore()
    log = make(store, flush_seconds=60)
    ORIGIN.set(Origin(ip="192.0.2.5", user_agent="curl/8", actor="root"))
    log.record("user_disabled", "bob")
    log.record("lock_cleared", None, key="ip:1.2.3.4", by="admin")
    await log.close()
    first, second = store.batches[0]
    assert (first.ip, first.user_agent, first.details) == ("192.0.2.5", "curl/8", {"by": "root"})
    assert second.details == {"key": "ip:1.2.3.4", "by": "admin"}


async def test_a_failing_store_keeps_events_for_the_next_flush() -> None:
    store = MemoryStore()
    log = make(store, flush_seconds=60)
    store.fail = True
    log.record("sign_in", "alice")
    await log.flush()
    assert store.batches == []
    store.fail = False
    log.record("sign_out", "alice")
    await log.close()
    assert [e.type for e in store.batches[0]] == ["sign_in", "sign_out"]


async def test_query_sees_events_not_yet_written() -> None:
    store = MemoryStore()
    log = make(store, flush_seconds=60)
    log.record("sign_in", "alice")
    assert [e.type for e in await log.query(AuditQuery(username="alice"))] == ["sign_in"]
    await log.close()


async def test_long_text_is_cut_and_listener_sees_each_type() -> None:
    store = MemoryStore()
    seen: list[str] = []
    log = AuditLog(store, keep_days=1, clock=lambda: NOW, flush_seconds=60, listener=seen.append)
    ORIGIN.set(Origin(user_agent="u" * 5000))
    log.record("sign_in_failed", "x" * 500, note="n" * 1000)
    await log.close()
    (event,) = store.batches[0]
    assert len(event.username or "") == 128
    assert len(event.user_agent or "") == 512
    assert event.details == {"note": "n" * 200}
    assert seen == ["sign_in_failed"]


@pytest.mark.parametrize("count", [0, 1])
async def test_start_prunes_without_events(count: int) -> None:
    store = MemoryStore()
    log = make(store, flush_seconds=60)
    for _ in range(count):
        log.record("sign_in", "a")
    log.start()
    for _ in range(50):
        if store.pruned:
            break
        await asyncio.sleep(0.01)
    await log.close()
    assert store.pruned == [NOW - 90 * 86400]


class SlowStore(MemoryStore):
    """A store whose writes wait for `release`: a query still running when the server stops."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.cut_off: list[str] = []

    async def _slow(self, what: str) -> None:
        self.entered.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cut_off.append(what)
            raise

    async def append(self, events: Sequence[AuditEvent]) -> None:
        await self._slow("append")
        await super().append(events)

    async def prune(self, before: float) -> int:
        await self._slow("prune")
        return await super().prune(before)


async def finish_while_closing(log: AuditLog, store: SlowStore) -> None:
    await asyncio.wait_for(store.entered.wait(), 5)
    closing = asyncio.ensure_future(log.close())
    await asyncio.sleep(0.05)
    assert not closing.done()  # close waits for the query under way ...
    store.release.set()
    await asyncio.wait_for(closing, 5)
    assert store.cut_off == []  # ... instead of cancelling it (its driver thread outlives the loop)


async def test_close_waits_for_the_hourly_prune_under_way() -> None:
    store = SlowStore()
    log = make(store, flush_seconds=60)
    log.start()
    await finish_while_closing(log, store)
    assert store.pruned == [NOW - 90 * 86400]


async def test_close_waits_for_the_batch_write_under_way() -> None:
    store = SlowStore()
    log = make(store, flush_seconds=0.01)
    log.record("sign_in", "alice")
    await finish_while_closing(log, store)
    assert [e.type for batch in store.batches for e in batch] == ["sign_in"]
