#!/bin/sh
# Create the django-helpdesk benchmark instance: its own virtualenv at bench/peer/venv (from PyPI),
# then migrate, a superuser and a queue. The database goes to $PEER_DATA_DIR (default bench/out/peer).
#
#   sh bench/peer/setup_helpdesk.sh            then, to fill it:
#   bench/peer/venv/bin/python bench/peer/peer_data.py generate --tickets 10000
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PEER_PYTHON:-python3.11}
if [ ! -x "$HERE/venv/bin/gunicorn" ]; then
    "$PYTHON" -m venv "$HERE/venv"
    "$HERE/venv/bin/pip" install --quiet --disable-pip-version-check \
        "django-helpdesk==2.6.1" "Django>=5.2,<5.3" "djangorestframework>=3.18,<3.19" "gunicorn>=23"
fi
"$HERE/venv/bin/python" "$HERE/peer_data.py" setup
