"""``python -m selfeng``: the same as the ``selfeng`` command."""

from selfeng.cli import main

main()
