#!/usr/bin/env bash
# Run caredesk on embedded SQLite with demo data at http://127.0.0.1:8000 (sets itself up first).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/caredesk serve "$@"
