#!/usr/bin/env bash
# Benchmarks side by side (SPEC section 11): signin against the argon2 ceiling, a bare FastAPI
# floor, fastapi-users and Django. Usage: bench/run.sh [--quick] [--profile] [--scale-out | --oidc | --cli]
# (quick: under 2 minutes). --scale-out runs bench/scaleout.py instead: signin on PostgreSQL +
# Redis beside SQLite, --workers 2 against 1, and a raw ASGI app (needs PostgreSQL and Redis:
# BENCH_POSTGRES_URL, BENCH_REDIS_URL). --oidc runs bench/oidc.py instead: OIDC code round trips,
# token-endpoint latency and the CPU of a refresh, on SQLite and on PostgreSQL + Redis (same needs).
# --cli runs bench/cli_startup.py instead: how long `signin --help`, `users list` and `locks list`
# take as whole processes (no servers, no peers).
# Installs what it needs (wrk from Debian, one virtualenv per peer under bench/.venv-*), starts
# each server with one worker on 127.0.0.1, and stops everything it started, whatever happens.
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH")"
WORK="$BENCH/.work"
ARGS=("$@")
for arg in "${ARGS[@]}"; do
  case "$arg" in
    --quick | --profile | --scale-out | --oidc | --cli) ;;
    *) echo "usage: bench/run.sh [--quick] [--profile] [--scale-out | --oidc | --cli]" >&2; exit 2 ;;
  esac
done
mkdir -p "$WORK"
: > "$WORK/pids"

cleanup() {
  # Every server was started in its own process group; its leader's PID is in $WORK/pids.
  if [[ -n "${DRIVER:-}" ]]; then kill -TERM "$DRIVER" 2>/dev/null || true; wait "$DRIVER" 2>/dev/null || true; fi
  while read -r pid; do
    [[ -n "$pid" ]] && kill -TERM -- "-$pid" 2>/dev/null || true
  done < "$WORK/pids"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '[run.sh] %s\n' "$*"; }

if [[ " ${ARGS[*]} " == *" --cli "* ]]; then  # start-up times only: no wrk, no servers, no peers
  if [[ ! -x "$ROOT/.venv/bin/signin" ]]; then
    say "creating .venv for signin (pip install -e .)"
    python3 -m venv "$ROOT/.venv"
    "$ROOT/.venv/bin/pip" install -q -e "$ROOT" >"$WORK/pip-signin.log" 2>&1
  fi
  say "timing CLI start-up (bench/cli_startup.py)"
  "$ROOT/.venv/bin/python" "$BENCH/cli_startup.py"
  exit 0
fi

if ! command -v wrk >/dev/null; then
  say "installing wrk (Debian)"
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi

# venv DIR REQUIREMENTS... : create it once; reinstall when a requirements file changed.
venv() {
  local dir="$1"; shift
  local stamp="$dir/.requirements"
  if [[ ! -x "$dir/bin/python" ]]; then
    say "creating $(basename "$dir")"
    python3 -m venv "$dir"
  fi
  if ! cat "$@" | cmp -s - "$stamp"; then
    say "installing into $(basename "$dir") (log: $dir/pip.log)"
    local reqs=()
    for file in "$@"; do reqs+=(-r "$file"); done
    "$dir/bin/pip" install -q "${reqs[@]}" >"$dir/pip.log" 2>&1 || { tail -20 "$dir/pip.log"; exit 1; }
    cat "$@" > "$stamp"
  fi
}

if [[ ! -x "$ROOT/.venv/bin/signin" ]]; then
  say "creating .venv for signin (pip install -e .)"
  python3 -m venv "$ROOT/.venv"
  "$ROOT/.venv/bin/pip" install -q -e "$ROOT" >"$WORK/pip-signin.log" 2>&1
fi
venv "$BENCH/.venv-bench" "$BENCH/requirements-bench.txt"
if [[ " ${ARGS[*]} " != *" --scale-out "* && " ${ARGS[*]} " != *" --oidc "* ]]; then  # no peers there
  venv "$BENCH/.venv-fastapi-users" "$BENCH/peers/requirements-fastapi-users.txt"
  venv "$BENCH/.venv-django" "$BENCH/peers/requirements-django.txt"
fi

say "running workloads ${ARGS[*]:-(full)}"
cd "$ROOT"
"$BENCH/.venv-bench/bin/python" "$BENCH/bench.py" "${ARGS[@]}" \
  --command "bench/run.sh${ARGS[*]:+ ${ARGS[*]}}" &
DRIVER=$!
wait "$DRIVER"
DRIVER=
