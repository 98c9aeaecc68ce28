"""``python -m cli ...``: the ``feedlens`` command without installing it."""

from cli.main import main

main()
