#!/usr/bin/env bash
# THE run command (see README):
#   bash scripts/run.sh [streamlit args...]
# Sets up ./.venv, builds the demo warehouse data/demo.duckdb if it is absent,
# then serves the dashboard with Streamlit (extra args go to `streamlit run`): on 127.0.0.1
# only, unless sign-in is configured, JOURNEY_DASHBOARD_PUBLIC=1 or --server.address is given
# (see python -m journey_ui.serve, docs/security.md).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup.sh

echo "run: preparing demo data (data/demo.duckdb, only if missing)"
.venv/bin/journey demo --if-missing

echo "run: starting Streamlit"
exec .venv/bin/python -m journey_ui.serve "$@"
