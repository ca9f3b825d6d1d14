"""``python -m pystd serve``: this library's server."""

from oxbridge.serve import main

from . import LIBRARY

main(LIBRARY)
