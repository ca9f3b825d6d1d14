"""Values of any exported type in the vectors: the one definition is
``oxbridge.testing`` (which libraries made by ``oxbridge new`` use too)."""

from oxbridge.testing import decode_typed, encode_typed, same_typed

__all__ = ["decode_typed", "encode_typed", "same_typed"]
