#!/usr/bin/env bash
# Refresh the documentation's screenshots (docs/screenshots/*.png) from the browser tests that
# take them. The ordinary test run saves its screenshots in a temporary folder instead, so it
# never changes tracked files; run this on purpose and review the new images before committing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CAREDESK_SCREENSHOTS_DIR="$PWD/docs/screenshots"
.venv/bin/pytest -q -p no:randomly -m e2e \
  tests/e2e/test_agent_workspace.py tests/e2e/test_portal.py tests/e2e/test_rule_builder.py \
  tests/e2e/test_live_chat.py "$@"
git status --short docs/screenshots
