"""The `caredesk` command. Every Django management command is reachable as `caredesk <command>`;
caredesk's own (serve, worker, demo, createadmin, token, ...) live in caredesk/core/management/.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caredesk.settings")
    from django.core.management import execute_from_command_line

    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        args = ["help"]
    execute_from_command_line(["caredesk", *args])


if __name__ == "__main__":
    main()
