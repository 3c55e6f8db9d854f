"""``python -m narvik``: the same as the ``narvik`` command."""

from narvik.cli.main import main

main()
