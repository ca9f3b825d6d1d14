"""The PyO3 bridge's native ``<name>_many``: arrays ready as they are are
computed at once, and anything else takes the checked Python path, so both give
the same answers and the same errors."""

from __future__ import annotations

import math
import sys
import threading
from typing import Any

import numpy as np
import oxbridge
import pystd
import pytest
from oxbridge import _native
from oxbridge.errors import ArgumentTypeError, InvalidArgumentError, OxbridgeZeroDivisionError

from .test_batch import elementwise, same_bits

RNG = np.random.default_rng(7)


def operands(n: int) -> tuple[Any, Any]:
    a = RNG.standard_normal(n) + 1j * RNG.standard_normal(n)
    b = RNG.standard_normal(n) + 1j * RNG.standard_normal(n)
    return a, b


class Recorder:
    """A fallback that records that it was taken and answers ``sentinel``."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[object, ...], dict[str, object]]] = []
        self.sentinel = object()

    def __call__(self, *args: object, **kwargs: object) -> object:
        self.calls.append((args, kwargs))
        return self.sentinel


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.mark.parametrize("n", [0, 1, 7, 1000, 20_000, _native.PARALLEL_THRESHOLD + 3])
def test_ready_arrays_are_computed_natively_bit_for_bit(recorder: Recorder, n: int) -> None:
    a, b = operands(n)
    got = _native.fast_many("mul", recorder)(a, b)
    assert recorder.calls == []
    assert type(got) is np.ndarray
    assert got.dtype == np.complex128
    assert got.shape == (n,)
    assert same_bits(got, elementwise("mul", a, b))


def test_a_plain_scalar_after_the_first_is_broadcast_natively(recorder: Recorder) -> None:
    a, _ = operands(5)
    fast = _native.fast_many("mul", recorder)
    assert same_bits(fast(a, 2 - 1j), elementwise("mul", a, 2 - 1j))
    assert same_bits(fast(a, 0.5), elementwise("mul", a, 0.5))
    assert recorder.calls == []


def test_a_real_result_comes_back_as_float64(recorder: Recorder) -> None:
    a, _ = operands(9)
    got = _native.fast_many("abs", recorder)(a)
    assert recorder.calls == []
    assert got.dtype == np.float64
    assert got.tolist() == [abs(complex(z)) for z in a.tolist()]


@pytest.mark.parametrize(
    ("what", "args", "kwargs"),
    [
        ("a list", ([1j, 2j], [1j, 2j]), {}),
        ("keywords", (), {"a": np.array([1j]), "b": np.array([2j])}),
        ("a strided view", (np.arange(6, dtype=complex)[::2], np.ones(3, complex)), {}),
        ("float64 for complex", (np.ones(2), np.ones(2, complex)), {}),
        ("an int scalar", (np.ones(2, complex), 3), {}),
        ("a scalar first", (1j, np.ones(2, complex)), {}),
        ("a 2-D array", (np.ones((2, 2), complex), np.ones((2, 2), complex)), {}),
        ("a subclass", (np.ma.masked_array(np.ones(2, complex)), np.ones(2, complex)), {}),
        ("lengths that differ", (np.ones(2, complex), np.ones(3, complex)), {}),
        ("too few arguments", (np.ones(2, complex),), {}),
        ("a big-endian array", (np.ones(2, ">c16"), np.ones(2, complex)), {}),
    ],
)
def test_anything_else_goes_to_the_fallback_unchanged(
    recorder: Recorder, what: str, args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    assert _native.fast_many("mul", recorder)(*args, **kwargs) is recorder.sentinel, what
    [(got_args, got_kwargs)] = recorder.calls
    assert got_kwargs == kwargs
    assert len(got_args) == len(args)
    assert all(x is y for x, y in zip(got_args, args, strict=True))


def test_an_element_error_names_its_index(recorder: Recorder) -> None:
    a = np.array([1j, 2j, 3j])
    b = np.array([1j, 0j, 0j])
    with pytest.raises(OxbridgeZeroDivisionError, match="complex division by zero at index 1"):
        _native.fast_many("div", recorder)(a, b)
    assert recorder.calls == []


def test_a_function_without_a_vectorized_form_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match=r"greet\(\) has no vectorized form"):
        _native.fast_many("greet", print)


def test_the_client_method_is_named_documented_and_falls_back_with_the_same_errors() -> None:
    client = oxbridge.connect("pyo3")
    assert client.mul_many.__name__ == "mul_many"
    assert "elementwise" in (client.mul_many.__doc__ or "")
    a, b = operands(4)
    assert same_bits(client.mul_many(a, b), client.mul_many(a.tolist(), b=b))
    with pytest.raises(InvalidArgumentError, match="a has 2 elements, b has 3"):
        client.mul_many(np.ones(2, complex), np.ones(3, complex))
    with pytest.raises(ArgumentTypeError):
        client.mul_many(np.array(["x"]), b)
    # The same native function serves every client of the library.
    assert oxbridge.connect("pyo3").mul_many is client.mul_many


def test_a_large_call_lets_other_threads_run() -> None:
    """Above the threshold the GIL is released. With a switch interval far
    longer than the test, the only way for this thread to run while another is
    inside ``mul_many`` is that the call released the GIL; one attempt in
    several seeing it is proof (a busy machine may delay this thread past one
    call, never make a held GIL look released)."""
    a, b = operands(1 << 22)
    client = oxbridge.connect("pyo3")
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        for _ in range(20):
            inside, done = threading.Event(), threading.Event()

            def call(inside: threading.Event = inside, done: threading.Event = done) -> None:
                inside.set()
                client.mul_many(a, b)
                done.set()

            worker = threading.Thread(target=call)
            worker.start()
            assert inside.wait(60)
            overlapped = not done.is_set()
            worker.join(60)
            if overlapped:
                break
    finally:
        sys.setswitchinterval(interval)
    assert overlapped, "no attempt ran Python code during a large mul_many"


def test_another_librarys_integer_functions_take_the_native_path(recorder: Recorder) -> None:
    native = pystd._native
    a = RNG.integers(-(10**12), 10**12, 1000)
    b = RNG.integers(-(10**6), 10**6, 1000)
    got = native.fast_many("gcd", recorder)(a, b)
    assert recorder.calls == []
    assert got.dtype == np.int64
    assert got.tolist() == [math.gcd(x, y) for x, y in zip(a.tolist(), b.tolist(), strict=True)]
    by_twelve = native.fast_many("gcd", recorder)(a, 12)
    assert by_twelve.tolist() == [math.gcd(x, 12) for x in a.tolist()]
    assert recorder.calls == []
    # A bool is not an int here, as in the scalar call: the Python path decides.
    assert native.fast_many("gcd", recorder)(a, True) is recorder.sentinel
