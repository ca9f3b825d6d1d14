"""A library is a shared object the runtime loads (``oxb_library``): what
loading checks, and what it refuses with a clear ``ImportError``."""

from __future__ import annotations

import sys
from pathlib import Path

import oxbridge
import pystd
import pytest
from oxbridge import _native


def test_a_library_is_loaded_from_its_own_shared_object() -> None:
    """pystd's module is the runtime's, made from pystd's shared object,
    which holds no Python binding (no ``PyInit_``) and exports the C ABI."""
    path = Path(pystd._native.__file__)
    assert path.parent == Path(pystd.__file__).parent
    assert pystd.LIBRARY.path == str(path)
    symbols = path.read_bytes()
    assert b"oxb_library" in symbols
    assert b"oxb_gcd" in symbols
    assert b"PyInit_" not in symbols
    assert pystd._native.LIBRARY == "pystd"
    assert pystd._native.LIBRARY_ABI_VERSION == _native.LIBRARY_ABI_VERSION
    assert len(pystd._native.CHECKSUM) == 16
    assert pystd._native.CHECKSUM != _native.CHECKSUM


def test_loading_twice_gives_the_same_library() -> None:
    again = _native.load_library(pystd._native.__file__, "pystd_again._native")
    assert again.CHECKSUM == pystd._native.CHECKSUM
    assert again.functions() == pystd._native.functions()
    assert again.gcd(12, 18) == pystd._native.gcd(12, 18) == 6
    assert oxbridge.Library.load("pystd") is not pystd.LIBRARY
    assert oxbridge.Library.load("pystd").native is pystd._native


def test_a_missing_file_is_an_import_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.so"
    with pytest.raises(ImportError, match=f"cannot load the library {missing}"):
        _native.load_library(str(missing), "nothing._native")


def test_a_shared_object_that_is_no_library_is_refused() -> None:
    """The runtime's own extension exports no ``oxb_library``."""
    refused = "is not an oxbridge library: it exports no `oxb_library`"
    with pytest.raises(ImportError, match=refused):
        _native.load_library(_native.__file__, "not_a_library._native")


def test_a_package_without_its_shared_object_says_to_build_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "unbuilt").mkdir()
    (tmp_path / "unbuilt" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    __import__("unbuilt")
    try:
        with pytest.raises(ImportError, match="has no shared object '_native': build it"):
            oxbridge.Library.load("unbuilt")
    finally:
        sys.modules.pop("unbuilt", None)
