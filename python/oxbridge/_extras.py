"""The optional dependencies: each imported where it is first needed, and
missing ones reported as one line naming the ``pip install`` that adds them.

A plain ``pip install oxbridge`` makes every bridge's scalar calls work;
vectorized calls need numpy (``oxbridge[numpy]``), the benchmark's baselines
and plots ``oxbridge[bench]``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingExtraError

__all__ = ["numpy", "require"]


def require(module: str, extra: str, feature: str) -> ModuleType:
    """``module``, imported; if it is not installed, a :class:`MissingExtraError`
    saying that ``feature`` needs it and which extra brings it. A module that
    is installed but fails to import raises its own error unchanged."""
    top = module.partition(".")[0]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name is None or e.name.partition(".")[0] != top:
            raise
        raise MissingExtraError(
            f"{feature} need {top}, which is not installed: pip install 'oxbridge[{extra}]'"
        ) from None


def numpy() -> ModuleType:
    """numpy, for arrays: vectorized calls and array arguments or results."""
    return require("numpy", "numpy", "arrays (the *_many calls, array arguments and results)")
