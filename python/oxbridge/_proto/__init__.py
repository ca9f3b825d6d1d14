"""Generated gRPC stubs: do not edit, run `make protos`.

For grpcio, as the articles' own clients use them; oxbridge's gRPC bridge
does not (its client is in the extension). Without grpcio and protobuf,
importing them names the extra that brings both.
"""

from .._extras import require

require("google.protobuf", "grpcio", "the generated gRPC stubs (oxbridge._proto)")
require("grpc", "grpcio", "the generated gRPC stubs (oxbridge._proto)")
