#!/usr/bin/env bash
# Idempotent developer setup: creates ./.venv (if missing) with Python >= 3.11
# and installs the project in editable mode with its dev extras.
#
# Usage:  bash scripts/setup.sh
# Env:    PYTHON  interpreter used to create the venv (default: python3)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"

# Succeeds if the given interpreter is Python >= 3.11.
python_ok() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null
}

if [ -x "$VENV/bin/python" ] && python_ok "$VENV/bin/python"; then
    echo "setup: reusing existing virtualenv $VENV"
else
    if ! command -v "$PYTHON" >/dev/null 2>&1; then
        echo "setup: ERROR: interpreter '$PYTHON' not found (set PYTHON=/path/to/python3.11+)" >&2
        exit 1
    fi
    if ! python_ok "$PYTHON"; then
        found="$("$PYTHON" -c 'import platform; print(platform.python_version())' 2>/dev/null || echo unknown)"
        echo "setup: ERROR: Python >= 3.11 is required, '$PYTHON' is $found" >&2
        echo "setup:        set PYTHON=/path/to/python3.11+ and re-run" >&2
        exit 1
    fi
    if [ -e "$VENV" ]; then
        echo "setup: $VENV is broken or too old; recreating it"
        rm -rf "$VENV"
    fi
    echo "setup: creating virtualenv $VENV with $("$PYTHON" -c 'import sys; print(sys.executable)')"
    if ! "$PYTHON" -m venv "$VENV"; then
        rm -rf "$VENV"
        echo "setup: ERROR: 'python -m venv' failed; on Debian/Ubuntu install python3-venv" >&2
        exit 1
    fi
fi

echo "setup: upgrading pip"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip

echo "setup: installing journey-explorer (editable, with dev extras)"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[dev]'

echo "setup: done ($("$VENV/bin/python" --version))"
