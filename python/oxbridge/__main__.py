"""``python -m oxbridge``: the same CLI as the ``oxbridge`` console script."""

from oxbridge.cli import main

main()
