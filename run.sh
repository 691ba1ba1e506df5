#!/usr/bin/env bash
# Serve signin on SQLite at http://127.0.0.1:8000 (data in ./data). Creates .venv on first run.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x .venv/bin/signin ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -e .
fi
exec .venv/bin/signin serve "$@"
