"""Importing the demo's users: validate, wrap each pre-hash in argon2id on all cores, write batches.

Rows are taken in id order. A row is skipped, with its reason, when its username breaks our rules,
its password_hash is no v1 pre-hash, an earlier row of the file has the same name by canonical form
(the demo told 'Alice' and 'alice' apart; we cannot), or the account already exists here, which
is what makes a second run import nothing. Existing names are filtered before hashing, so a second
run costs seconds, not hours. Each batch is one transaction: an interrupted import leaves whole
batches behind and the next run carries on from there.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from signin.accounts.clock import Clock
from signin.accounts.legacy import SkipReason, mark, page_ready, skip_reason
from signin.accounts.lookalikes import skeleton
from signin.accounts.usernames import canon
from signin.crypto.passwords import PasswordHasher
from signin.stores.base import NewUser

DEFAULT_BATCH = 500


class DemoSource(Protocol):
    def count(self) -> int: ...
    def rows(self) -> Iterator[tuple[int, object, object]]: ...


class AccountWriter(Protocol):
    async def existing(self, canons: Sequence[str]) -> set[str]: ...
    async def insert(self, batch: Sequence[NewUser]) -> set[str]: ...


@dataclass(frozen=True, slots=True)
class Skipped:
    row_id: int
    username: str  # printable form of whatever the demo stored
    reason: SkipReason


@dataclass
class ImportReport:
    rows: int = 0
    imported: int = 0
    page_ready: int = 0  # imported accounts the page signs in as before (with ASCII passwords)
    skipped: list[Skipped] = field(default_factory=list)

    def reasons(self) -> Counter[SkipReason]:
        return Counter(item.reason for item in self.skipped)


@dataclass(frozen=True, slots=True)
class _Pending:
    row_id: int
    username: str
    canon: str
    prehash: str


def printable(value: object, limit: int = 40) -> str:
    text = value if isinstance(value, str) and value.isprintable() else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class LegacyImporter:
    def __init__(
        self,
        writer: AccountWriter,
        hasher: PasswordHasher,
        *,
        clock: Clock,
        workers: int,
        batch_size: int = DEFAULT_BATCH,
    ) -> None:
        self.writer = writer
        self.hasher = hasher
        self.clock = clock
        self.workers = max(1, workers)
        self.batch_size = batch_size

    async def run(
        self, source: DemoSource, progress: Callable[[int], None] = lambda _done: None
    ) -> ImportReport:
        """Import every row of `source`; `progress(n)` is told each time n more rows are done."""
        report = ImportReport()
        seen: set[str] = set()
        pending: list[_Pending] = []
        # argon2-cffi releases the GIL while hashing, so threads use every core.
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="import-argon2")
        try:
            for row_id, username, password_hash in source.rows():
                report.rows += 1
                reason = skip_reason(username, password_hash)
                if reason is None and isinstance(username, str) and isinstance(password_hash, str):
                    key = canon(username)
                    if key in seen:
                        reason = "duplicate"
                    else:
                        seen.add(key)
                        pending.append(_Pending(row_id, username, key, password_hash))
                if reason is not None:
                    report.skipped.append(Skipped(row_id, printable(username), reason))
                    progress(1)
                if len(pending) >= self.batch_size:
                    await self._flush(pending, report, pool, progress)
                    pending = []
            await self._flush(pending, report, pool, progress)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        report.skipped.sort(key=lambda item: item.row_id)
        return report

    async def _flush(
        self,
        pending: list[_Pending],
        report: ImportReport,
        pool: ThreadPoolExecutor,
        progress: Callable[[int], None],
    ) -> None:
        if not pending:
            return
        present = await self.writer.existing([item.canon for item in pending])
        todo = [item for item in pending if item.canon not in present]
        for item in pending:
            if item.canon in present:
                report.skipped.append(Skipped(item.row_id, item.username, "exists"))
                progress(1)
        loop = asyncio.get_running_loop()

        async def wrap(prehash: str) -> str:
            phc = await loop.run_in_executor(pool, self.hasher.hash_sync, prehash)
            progress(1)
            return phc

        tasks = [asyncio.ensure_future(wrap(item.prehash)) for item in todo]
        try:
            hashes = await asyncio.gather(*tasks)
        except BaseException:  # gather leaves the siblings running; the batch is lost anyway
            for task in tasks:
                task.cancel()
            raise
        now = self.clock()
        batch = [
            NewUser(
                username=item.username,
                username_canon=item.canon,
                username_skeleton=skeleton(item.username),
                email=None,
                email_canon=None,
                password_hash=mark(phc),
                created_at=now,
            )
            for item, phc in zip(todo, hashes, strict=True)
        ]
        added = await self.writer.insert(batch)
        for item in todo:
            if item.canon in added:
                report.imported += 1
                report.page_ready += page_ready(item.username)
            else:  # a sign-up took the name between our check and our insert
                report.skipped.append(Skipped(item.row_id, item.username, "exists"))
