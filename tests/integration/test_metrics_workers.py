"""`/metrics` under `signin serve --workers 2`: every worker's scrape shows the sum of both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.metrics_text import sample
from tests.support import ServerProcess, on_fresh_connections

pytestmark = pytest.mark.slow
ATTEMPTS = 12


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("metrics-workers")
    stale = tmp / "data" / "metrics"
    stale.mkdir(parents=True)
    (stale / "counter_99999.db").write_bytes(b"left over from an old run")
    process = ServerProcess(
        {
            "SIGNIN_DATA_DIR": str(tmp / "data"),
            "SIGNIN_IP_LOCK_MAX_FAILURES": "1000",
            "SIGNIN_LOCK_MAX_FAILURES": "1000",
        },
        workers=2,
        log_path=tmp / "serve.log",
    ).start(timeout=60)
    try:
        yield process
    finally:
        process.stop()


async def test_scrapes_from_any_worker_count_every_worker(workers: ServerProcess) -> None:
    answers = await on_fresh_connections(
        ATTEMPTS,
        "POST",
        workers.url + "/api/v1/session",
        json={"username": "nobody", "password": "wrong password here"},
    )
    assert all(answer.status_code == 401 for answer in answers)
    counters = list((Path(workers.env["SIGNIN_DATA_DIR"]) / "metrics").glob("counter_*.db"))
    assert len(counters) >= 2, "both workers should have counted"
    scrapes = await on_fresh_connections(8, "GET", workers.url + "/metrics")
    for scrape in scrapes:
        assert scrape.status_code == 200
        text = scrape.text
        assert sample(text, "signin_sign_ins_total", outcome="failure") == ATTEMPTS
        assert sample(text, "signin_hash_queue") == 0


def test_old_files_were_cleared_at_start(workers: ServerProcess) -> None:
    metrics_dir = Path(workers.env["SIGNIN_DATA_DIR"]) / "metrics"
    assert metrics_dir.is_dir()
    assert not (metrics_dir / "counter_99999.db").exists()


def test_a_forwarded_address_from_an_untrusted_peer_is_ignored(workers: ServerProcess) -> None:
    # No trusted proxy is configured: the peer (loopback) is the client, whatever the header says.
    response = httpx.get(workers.url + "/metrics", headers={"X-Forwarded-For": "198.51.100.1"})
    assert response.status_code == 200
