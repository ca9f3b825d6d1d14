"""Writes ``vectors/*.json`` from Python's own ``base64`` module
(``b64.reference``): what each
case must give on every bridge. A case Python refuses must be refused by
b64 too; its message is b64's own (the same on every bridge), taken from
the built library: run ``pip install -e .`` first."""

from __future__ import annotations

import binascii
import json
from pathlib import Path
from typing import Any

import b64
import oxbridge
from b64 import reference
from oxbridge.testing import encode_typed

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
DATA = [b"", b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar", bytes(range(256)), b"\xfb\xff\xbf"]
TEXTS = [
    "", "Zg==", "Zm8=", "Zm9v", "+/+/", "AAECAw==",
    "Zg=", "Zg", "Z===", "Zm9v\n", " Zm9v", "Zm9v!", "-_-_", "Zm9v====", "Zm9v=", "=Zm9",
    "Zh==", "Zg==Zg==",
]  # fmt: skip


def case(function: str, i: int, args: dict[str, Any], call: Any, want: Any) -> dict[str, Any]:
    """One vector: Python's answer, or its refusal with b64's message."""
    spec = b64.LIBRARY.functions[function]
    name = spec.params[0].name
    encoded = {name: encode_typed(spec.params[0].type, args[name])}
    try:
        expect = want()
    except (binascii.Error, ValueError):
        try:
            call()
        except oxbridge.InvalidArgumentError as e:
            error = {"kind": "invalid_argument", "message": str(e)}
        else:
            raise AssertionError(f"{function}({args}): Python refuses it, b64 does not") from None
        return {"id": f"{function}:{i}", "args": encoded, "error": error}
    return {"id": f"{function}:{i}", "args": encoded, "expect": encode_typed(spec.returns, expect)}


def main() -> None:
    client: Any = b64.connect("pyo3")
    specs = {
        "encode": ("base64.b64encode(data).decode()", [
            case("encode", i, {"data": d}, lambda d=d: client.encode(d),
                 lambda d=d: reference.encode(d))
            for i, d in enumerate(DATA)
        ]),
        "encode_urlsafe": ("base64.urlsafe_b64encode(data).decode()", [
            case("encode_urlsafe", i, {"data": d}, lambda d=d: client.encode_urlsafe(d),
                 lambda d=d: reference.encode_urlsafe(d))
            for i, d in enumerate(DATA)
        ]),
        "decode": ("base64.b64decode(text, validate=True)", [
            case("decode", i, {"text": t}, lambda t=t: client.decode(t),
                 lambda t=t: reference.decode(t))
            for i, t in enumerate(TEXTS)
        ]),
    }  # fmt: skip
    for function, (source, cases) in specs.items():
        text = json.dumps(
            {"function": function, "reference": source, "cases": cases},
            indent=1,
            ensure_ascii=False,
        )
        (VECTORS / f"{function}.json").write_text(text + "\n")
        print(f"wrote vectors/{function}.json: {len(cases)} cases")


if __name__ == "__main__":
    main()
