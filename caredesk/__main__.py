"""`python -m caredesk` is the same as the `caredesk` command."""

from caredesk.cli import main

main()
