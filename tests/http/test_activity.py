"""`/account/activity`: a user's own last 50 events, with time, what, IP and browser."""

from __future__ import annotations

import re
from pathlib import Path

from tests.http.mailflows import mail_app, other_client, sign_in, sign_up

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Firefox/128.0"


async def test_own_events_only_readable_and_(tmp_path: Path) -> None:
    async with mail_app(tmp_path, None) as (client, services):
        assert (await client.get("/account/activity")).status_code == 303
        await sign_up(client, "Alice")
        async with other_client(client, user_agent=FIREFOX) as firefox:
            assert (await sign_in(firefox, "ALICE", "wrong password x")).status_code == 401
            assert (await sign_in(firefox, "alice")).status_code == 303
        async with other_client(client, ip="192.0.2.44") as third:
            await sign_up(third, "bbobb")
        page = await client.get("/account/activity")
        assert page.status_code == 200
        rows = re.findall(r'<tr data-event="([a-z_]+)">(.*?)</tr>', page.text, re.S)
        assert [kind for kind, _ in rows] == ["sign_in", "sign_in_failed", "sign_up"]
        signed_in = rows[0][1]
        assert "198.51.100.9" in signed_in
        assert "Firefox on Linux" in signed_in
        assert "Signed in" in signed_in
        assert "Failed sign-in attempt" in rows[1][1]
        assert "bbobb" not in page.text  # another account's events are not shown

        # Only the last 50.
        for _ in range(60):
            services.audit.record("sign_in_failed", "alice")
        page = await client.get("/account/activity")
        assert page.text.count("<tr data-event=") == 50
