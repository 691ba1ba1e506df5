#!/usr/bin/env bash
# The whole suite: lint (ruff), types (mypy --strict), then every test tier with pytest.
# Tests that need Chromium, nginx, PostgreSQL or Redis skip with a reason when those are missing,
# unless SIGNIN_REQUIRE_ALL=1 (set by .ci/run), which turns a missing server into a failure.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x .venv/bin/pytest ] || [ pyproject.toml -nt .venv/.installed ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -e '.[dev]'
  touch .venv/.installed
fi
# Say up front which tiers will skip, and what would make them run.
answers() {  # host:port from a URL: does anything listen there?
  local hostport=${1#*://}; hostport=${hostport#*@}; hostport=${hostport%%/*}
  timeout 2 bash -c "exec 3<>/dev/tcp/${hostport%%:*}/${hostport##*:}" 2>/dev/null
}
pg=${SIGNIN_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/test}
redis=${SIGNIN_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}
if ! answers "$pg"; then
  echo "note: no PostgreSQL at $pg: the PostgreSQL tests will skip. Start one (Debian:" \
    "apt-get install postgresql, trust auth for 127.0.0.1, a database 'test') or point" \
    "SIGNIN_TEST_POSTGRES_URL at a server where the user may CREATE DATABASE." >&2
fi
if ! answers "$redis"; then
  echo "note: no Redis at $redis: the Redis tests will skip. Start one (Debian:" \
    "apt-get install redis-server) or point SIGNIN_TEST_REDIS_URL at a database the tests may flush." >&2
fi
for tool in chromium:/usr/bin/chromium nginx:/usr/sbin/nginx caddy:/usr/bin/caddy \
  systemd:/usr/bin/systemd-analyze; do
  [ -x "${tool#*:}" ] || echo "note: ${tool#*:} is missing: its tests will skip" \
    "(apt-get install ${tool%%:*})." >&2
done

.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/mypy
exec .venv/bin/pytest "$@"
