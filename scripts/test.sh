#!/usr/bin/env bash
# THE test command (see README):
#   bash scripts/test.sh [pytest args...]
# Installs system deps (chromium, postgresql) if missing, sets up ./.venv, then runs the
# checks in order and stops at the first that fails: ruff check, ruff format --check,
# mypy (strict, files from pyproject), mkdocs build --strict, then pytest with any extra
# arguments passed through.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/test-deps.sh
bash scripts/setup.sh

# Directory holding the PostgreSQL server binaries (initdb, pg_ctl).
# Order: $JOURNEY_PG_BIN, `pg_config --bindir`, newest /usr/lib/postgresql/*/bin, $PATH.
find_pg_bin() {
    local d
    if [ -n "${JOURNEY_PG_BIN:-}" ]; then
        echo "$JOURNEY_PG_BIN"
        return 0
    fi
    if command -v pg_config >/dev/null 2>&1; then
        d="$(pg_config --bindir 2>/dev/null || true)"
        if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            echo "$d"
            return 0
        fi
    fi
    # `sort -V` puts 9.6 < 15 < 16; take the newest version.
    for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            echo "$d"
            return 0
        fi
    done
    if command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
        return 0
    fi
    return 1
}

if JOURNEY_PG_BIN="$(find_pg_bin)"; then
    export JOURNEY_PG_BIN
    echo "test: JOURNEY_PG_BIN=$JOURNEY_PG_BIN"
else
    unset JOURNEY_PG_BIN
    echo "test: WARNING: no PostgreSQL initdb/pg_ctl found; postgres tests will fail" >&2
fi
export JOURNEY_CHROMIUM="${JOURNEY_CHROMIUM:-/usr/bin/chromium}"
echo "test: JOURNEY_CHROMIUM=$JOURNEY_CHROMIUM"

# One check; on failure say which and how to reproduce it, and stop.
check() {
    local name="$1"
    shift
    echo "test: [$name] $*"
    local status=0
    "$@" || status=$?
    if [ "$status" -ne 0 ]; then
        echo "test: FAILED: $name (exit code $status); run: $*" >&2
        exit "$status"
    fi
}

check "ruff check" .venv/bin/ruff check .
check "ruff format" .venv/bin/ruff format --check .
check "mypy" .venv/bin/mypy
site_dir="$(mktemp -d)"
trap 'rm -rf "$site_dir"' EXIT
check "mkdocs" env NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet --site-dir "$site_dir"

echo "test: .venv/bin/python -m pytest --durations=15 $*"
status=0
.venv/bin/python -m pytest --durations=15 "$@" || status=$?

if [ "$status" -eq 5 ]; then
    echo "test: ERROR: pytest collected no tests (exit code 5); treating as failure" >&2
    exit 5
fi
if [ "$status" -ne 0 ]; then
    echo "test: pytest failed with exit code $status" >&2
fi
exit "$status"
