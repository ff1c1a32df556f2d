#!/usr/bin/env bash
# The whole test suite: lint, types, tests on SQLite, then on PostgreSQL when
# CAREDESK_TEST_DATABASE_URL is set. Sets up everything it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# Browser tests drive Debian's Chromium and the scale-out test runs nginx: install them when we can.
missing=""
[ -x /usr/bin/chromium ] || missing="$missing chromium"
[ -x /usr/sbin/nginx ] || missing="$missing nginx-light"
[ -x /usr/sbin/dovecot ] || missing="$missing dovecot-imapd dovecot-pop3d"
if [ -n "$missing" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  # The tests start nginx and dovecot themselves, on free ports, and stop them by PID: keep the
  # packages from starting their system services (Debian's policy-rc.d: 101 = do not start).
  # Nothing running on the machine is ever stopped by name.
  made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null) \
    || echo "WARNING: could not install$missing; browser and proxy tests will fail" >&2
  [ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
fi
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff"
ruff check caredesk tests bench
ruff format --check caredesk tests bench
echo "== mypy"
mypy caredesk/*/services.py caredesk/channels caredesk/assist
echo "== pytest (SQLite)"
pytest -n 2 -q -p no:randomly "$@"
if [ -n "${CAREDESK_TEST_DATABASE_URL:-}" ]; then
  echo "== pytest (PostgreSQL: $CAREDESK_TEST_DATABASE_URL)"
  CAREDESK_TEST_DB=postgres pytest -n 2 -q -m "not e2e and not cluster" "$@"
else
  echo "WARNING: CAREDESK_TEST_DATABASE_URL is not set: the PostgreSQL run is SKIPPED" >&2
fi
