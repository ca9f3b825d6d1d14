"""Type stubs for the PyO3 extension ``oxbridge._native`` (checked by stubtest)."""

__all__ = ["ABI_VERSION", "__version__", "add", "div", "greet", "mul", "sub"]

__version__: str
ABI_VERSION: int

def add(a: complex, b: complex) -> complex:
    """`a + b`, exactly as Python computes it."""

def sub(a: complex, b: complex) -> complex:
    """`a - b`, exactly as Python computes it."""

def mul(a: complex, b: complex) -> complex:
    """`a * b`, exactly as Python computes it."""

def div(a: complex, b: complex) -> complex:
    """`a / b`, exactly as Python computes it; raises on a zero divisor."""

def greet(greeting: str, name: str) -> str:
    """`f"{greeting}, {name}"`."""
