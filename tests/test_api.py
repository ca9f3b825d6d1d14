"""The client API, the exception hierarchy and the C ABI's loading contract."""

from __future__ import annotations

import builtins
import ctypes
import re
import shutil
import subprocess
from pathlib import Path

import oxbridge
import pytest
from oxbridge import _native, errors
from oxbridge._library import CALCULATOR
from oxbridge.bridges import _cabi

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (oxbridge.OxbridgeZeroDivisionError, ZeroDivisionError),
        (oxbridge.InvalidArgumentError, ValueError),
        (oxbridge.ArgumentTypeError, TypeError),
        (oxbridge.InternalError, RuntimeError),
        (oxbridge.TransportError, ConnectionError),
        (oxbridge.BridgeTimeoutError, TimeoutError),
        (oxbridge.BridgeTimeoutError, ConnectionError),
        (oxbridge.AbiMismatchError, ImportError),
        (oxbridge.UnknownBridgeError, ValueError),
        (oxbridge.ServerBusyError, ConnectionError),
        (oxbridge.ServerBusyError, oxbridge.TransportError),
        (oxbridge.NotFoundError, LookupError),
        (oxbridge.MethodNotAllowedError, ValueError),
        (oxbridge.UnsupportedMediaTypeError, ValueError),
    ],
)
def test_every_error_is_an_oxbridge_error_and_its_builtin(
    cls: type[Exception], builtin: type[Exception]
) -> None:
    assert issubclass(cls, oxbridge.OxbridgeError)
    assert issubclass(cls, builtin)


def test_error_for_maps_every_kind_and_flags_unknown_ones() -> None:
    assert type(errors.error_for("zero_division", "m")) is oxbridge.OxbridgeZeroDivisionError
    assert type(errors.error_for_status(2, "m")) is oxbridge.InvalidArgumentError
    assert type(errors.error_for_status(3, "m")) is oxbridge.InternalError
    unknown = errors.error_for("martian", "m")
    assert type(unknown) is oxbridge.InternalError
    assert "martian" in str(unknown)


@pytest.mark.parametrize("row", _native.error_kinds(), ids=lambda row: str(row[0]))
def test_every_kind_in_the_core_table_has_its_class(
    row: tuple[str, str, str, int, int, int],
) -> None:
    """The core's table of kinds is the reference: Python raises its class for each."""
    kind, class_name, base_name, _http, _grpc, status = row
    by_kind, by_status = (
        errors.error_for(kind, "the message"),
        errors.error_for_status(status, "the message"),
    )
    for err in (by_kind, by_status):
        assert str(err) == "the message"
        assert type(err).__name__ == class_name
        assert isinstance(err, getattr(builtins, base_name))
        assert isinstance(err, oxbridge.OxbridgeError)
        assert "unknown error kind" not in str(err)


def test_unknown_bridge_names_the_choices() -> None:
    with pytest.raises(oxbridge.UnknownBridgeError, match=r"unknown bridge 'carrier-pigeon'.*pyo3"):
        oxbridge.connect("carrier-pigeon")


def test_client_is_a_context_manager_with_a_name(client: oxbridge.Client) -> None:
    assert client.bridge in oxbridge.BRIDGES
    assert client.bridge in repr(client)


def test_abi_mismatch_fails_with_a_clear_message() -> None:
    _cabi.check_abi(_cabi.ABI_VERSION, CALCULATOR.path)
    with pytest.raises(
        oxbridge.AbiMismatchError, match=rf"C ABI version 99.*needs version {_cabi.ABI_VERSION}"
    ):
        _cabi.check_abi(99, CALCULATOR.path)


def test_python_abi_version_matches_header_and_library() -> None:
    header = (ROOT / "include" / "oxbridge.h").read_text()
    m = re.search(r"#define OXB_ABI_VERSION (\d+)", header)
    assert m is not None
    assert int(m.group(1)) == _cabi.ABI_VERSION == oxbridge._native.ABI_VERSION


def _declarations(text: str) -> set[str]:
    """Typedefs and prototypes of a C text, whitespace-normalized, comments dropped."""
    text = re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.S)
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    text = re.sub(r'extern "C" \{|\}(?=\s*$)', "", text)
    decls = set()
    for stmt in text.split(";"):
        norm = re.sub(r"\s+", " ", stmt).strip()
        norm = re.sub(r"\s*([(),*{}])\s*", r"\1", norm)
        if norm:
            decls.add(norm)
    return decls


def test_cffi_declarations_are_the_generated_header() -> None:
    header = (ROOT / "include" / "oxbridge.h").read_text()
    assert header == oxbridge._native.C_HEADER
    assert _declarations(_cabi.cdef(oxbridge._native.C_HEADER)) == _declarations(header)
    # One declaration per exported function, derived from its definition.
    for name, _doc, params, returns, *_ in oxbridge._native.functions():
        args = ",".join(f"{_cabi.C_ARG[t]} {p}" for p, t in params)
        want = f"OxbStatus oxb_{name}({args},{_cabi.C_OUT[returns]}*out,OxbString*err)"
        assert want in _declarations(header), want


def test_native_library_exports_the_c_abi() -> None:
    lib = ctypes.CDLL(CALCULATOR.path)
    for symbol in ("oxb_abi_version", "oxb_add", "oxb_greet", "oxb_string_free", "compute"):
        assert hasattr(lib, symbol), symbol
    nm = shutil.which("nm")
    if nm is not None:
        dynamic = subprocess.run(
            [nm, "-D", "--defined-only", CALCULATOR.path],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        assert re.search(r" T oxb_add$", dynamic, re.M)
        assert re.search(r" T compute$", dynamic, re.M)


def test_article_ctypes_client_works_unchanged() -> None:
    """The article's code, as printed, against the installed library."""
    from ctypes import Structure, c_double  # noqa: PLC0415 - deliberately local
    from typing import Any  # noqa: PLC0415 - deliberately local

    rust = ctypes.CDLL(CALCULATOR.path)

    class RustComplex(Structure):
        _fields_ = [("re", c_double), ("im", c_double)]

        def __init__(self, c: complex, *args: Any, **kw: Any) -> None:
            super().__init__(*args, **kw)
            self.re = c.real
            self.im = c.imag

    def compute(command: str, n1: complex, n2: complex) -> Any:
        rust.compute.restype = RustComplex
        return rust.compute(command.encode("UTF-8"), RustComplex(n1), RustComplex(n2))

    result = compute("add", 1 + 3j, -5j)
    assert complex(result.re, result.im) == 1 - 2j
    product = compute("mul", 1 + 3j, -5j)
    assert complex(product.re, product.im) == (1 + 3j) * -5j
    unknown = compute("no-such-op", 1 + 3j, -5j)
    assert unknown.re != unknown.re  # NaN, not a crash
