"""The HTTP API's OpenAPI document, generated from the code, tested by schemathesis."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

from oxbridge import _native

from .servers import serving

CHECKS = ",".join(
    [
        "not_a_server_error",
        "response_schema_conformance",
        "status_code_conformance",
        "content_type_conformance",
    ]
)


def test_document_lists_every_route_with_schemas() -> None:
    with serving("--no-ipc", "--no-grpc", "--http", "127.0.0.1:0") as s:
        url = f"http://{s.http[0]}/openapi.json"
        doc = json.loads(urllib.request.urlopen(url, timeout=5).read())
    assert doc["openapi"].startswith("3.")
    functions = _native.functions()
    # Each function under its library's name, and the first library's bare.
    named = {f"/{_native.LIBRARY}/{f[0]}" for f in functions}
    assert set(doc["paths"]) == {f"/{f[0]}" for f in functions} | named | {
        "/batch", "/healthz", "/version", "/catalogue", "/metrics", "/openapi.json",
    }  # fmt: skip
    assert doc["info"]["title"] == _native.LIBRARY
    # Every function's entry is derived from its definition.
    for name, doc_text, params, _returns, result_field, _raises, _many in functions:
        post = doc["paths"][f"/{name}"]["post"]
        assert doc["paths"][f"/{_native.LIBRARY}/{name}"] == doc["paths"][f"/{name}"]
        assert post["description"] == doc_text
        body = post["requestBody"]["content"]["application/json"]["schema"]
        assert list(body["properties"]) == [p for p, _ in params] == body["required"]
        reply = post["responses"]["200"]["content"]["application/json"]["schema"]
        assert reply["required"] == [result_field]
    add = doc["paths"]["/add"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert add["properties"]["a"]["$ref"] == "#/components/schemas/WireComplex"
    schemas = doc["components"]["schemas"]
    assert schemas["WireComplex"]["minItems"] == schemas["WireComplex"]["maxItems"] == 2


def test_schemathesis_finds_no_server_error_and_no_schema_violation(tmp_path: Path) -> None:
    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert cli is not None, "schemathesis is a dev dependency: make installs it"
    with serving("--no-ipc", "--no-grpc", "--http", "127.0.0.1:0") as s:
        done = subprocess.run(
            [cli, "run", f"http://{s.http[0]}/openapi.json", "--checks", CHECKS,
             "--max-examples", "40", "--seed", "20261121", "--no-color"],
            capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path,
        )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout
