"""``python -m b64 serve``: this library's server."""

from oxbridge.serve import main

from . import LIBRARY

main(LIBRARY)
