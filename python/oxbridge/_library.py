"""An exported Rust library, as Python reaches it.

A library is a crate that defines its functions once (``export!``) and
makes itself a shared object with ``oxbridge_ffi::library!``, which its
Python package ships. :meth:`Library.load` has oxbridge's runtime load it
(checking its ABI version and its catalogue's checksum); a :class:`Library`
opens clients on any of the six bridges with the same API as oxbridge's own
calculator, :data:`CALCULATOR`.
"""

from __future__ import annotations

import importlib
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from types import ModuleType

from . import _native
from ._functions import FUNCTIONS, FunctionInfo, catalogue

__all__ = ["CALCULATOR", "Library"]


class Library:
    """A library of exported functions and the extension module that holds it.

    ``package`` is the Python package that ships the extension (its
    ``python -m PACKAGE serve`` starts the library's server, which the network
    bridges start on demand); it also names the environment variables a
    network bridge reads (``PACKAGE_HTTP``, ``PACKAGE_GRPC``,
    ``PACKAGE_UNIX``, ``PACKAGE_TOKEN``).
    """

    def __init__(self, native: ModuleType, package: str | None = None) -> None:
        self.native = native
        #: The library's name: its gRPC package is ``<name>.v1``.
        self.name: str = native.LIBRARY
        self.package = package or native.__name__.rpartition(".")[0]
        #: The exported functions, by name.
        self.functions: dict[str, FunctionInfo] = (
            FUNCTIONS if native is _native else catalogue(native)
        )
        #: The shared library that exports the ``oxb_*`` symbols.
        self.path: str = native.__file__ or ""
        #: Its C header, which the cffi bridge declares.
        self.c_header: str = native.C_HEADER
        self.env_prefix = self.package.upper()
        self._env: dict[str, str] | None = None

    def env(self, option: str) -> str:
        """The environment variable of the server option ``option`` (its
        long name: ``http``, ``grpc``, ``unix``, ``token``...), as the
        server's one definition of its options names it for this library:
        ``OXBRIDGE_HTTP``, ``PYSTD_UNIX``... The clients read the same
        variables the server does. ``ca``, which only clients take, is
        ``<PACKAGE>_CA``."""
        if self._env is None:
            self._env = self.native.serve_environment(self.env_prefix)
        found = self._env.get(option)
        if found is not None:
            return found
        if option == "ca":
            return f"{self.env_prefix}_CA"
        raise KeyError(f"the server has no option --{option}")

    @classmethod
    def load(cls, package: str, filename: str = "_native") -> Library:
        """The library the Python package ``package`` ships as the shared
        object ``<package>/<filename>.<extension suffix>`` (as setuptools-rust
        names it), loaded by oxbridge's runtime. Its module is
        ``<package>.<filename>`` from then on.

        Raises ``ImportError`` when no such file exists, or when it is not an
        oxbridge library of this runtime's ABI (the message says which)."""
        name = f"{package}.{filename}"
        native = sys.modules.get(name)
        if native is None:
            native = _native.load_library(str(_shared_object(package, filename)), name)
            sys.modules[name] = native
            setattr(sys.modules[package], filename, native)
        return cls(native, package)

    @property
    def is_calculator(self) -> bool:
        """Whether this is oxbridge's own library, whose server may already run
        on the default addresses."""
        return self.native is _native

    def __repr__(self) -> str:
        return f"<oxbridge.Library {self.name!r} from {self.package}>"


def _shared_object(package: str, filename: str) -> Path:
    """The shared object ``filename`` of the package ``package`` (imported
    if it is not yet: its own ``__init__`` usually asks, half way through)."""
    module = sys.modules.get(package) or importlib.import_module(package)
    for folder in getattr(module, "__path__", []):
        for suffix in EXTENSION_SUFFIXES:
            path = Path(folder) / f"{filename}{suffix}"
            if path.is_file():
                return path
    raise ImportError(
        f"the package {package!r} has no shared object {filename!r}: build it"
        f" (pip install .) or reinstall it",
        name=f"{package}.{filename}",
    )


#: oxbridge's own library: the articles' calculator and greeter.
CALCULATOR = Library(_native, "oxbridge")
