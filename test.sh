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
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/mypy
exec .venv/bin/pytest "$@"
