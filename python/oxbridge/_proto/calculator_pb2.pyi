from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Operation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ADD: _ClassVar[Operation]
    SUB: _ClassVar[Operation]
    MUL: _ClassVar[Operation]
    DIV: _ClassVar[Operation]
ADD: Operation
SUB: Operation
MUL: Operation
DIV: Operation

class Complex(_message.Message):
    __slots__ = ("re", "im")
    RE_FIELD_NUMBER: _ClassVar[int]
    IM_FIELD_NUMBER: _ClassVar[int]
    re: float
    im: float
    def __init__(self, re: _Optional[float] = ..., im: _Optional[float] = ...) -> None: ...

class BinaryRequest(_message.Message):
    __slots__ = ("a", "b")
    A_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    a: Complex
    b: Complex
    def __init__(self, a: _Optional[_Union[Complex, _Mapping]] = ..., b: _Optional[_Union[Complex, _Mapping]] = ...) -> None: ...

class ComplexReply(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: Complex
    def __init__(self, result: _Optional[_Union[Complex, _Mapping]] = ...) -> None: ...

class GreetRequest(_message.Message):
    __slots__ = ("greeting", "name")
    GREETING_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    greeting: bytes
    name: bytes
    def __init__(self, greeting: _Optional[bytes] = ..., name: _Optional[bytes] = ...) -> None: ...

class GreetReply(_message.Message):
    __slots__ = ("message",)
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    message: str
    def __init__(self, message: _Optional[str] = ...) -> None: ...

class BatchRequest(_message.Message):
    __slots__ = ("op", "a", "b", "b_scalar", "offset")
    OP_FIELD_NUMBER: _ClassVar[int]
    A_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    B_SCALAR_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    op: Operation
    a: bytes
    b: bytes
    b_scalar: bool
    offset: int
    def __init__(self, op: _Optional[_Union[Operation, str]] = ..., a: _Optional[bytes] = ..., b: _Optional[bytes] = ..., b_scalar: _Optional[bool] = ..., offset: _Optional[int] = ...) -> None: ...

class BatchReply(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: bytes
    def __init__(self, result: _Optional[bytes] = ...) -> None: ...

class VersionRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VersionReply(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: str
    def __init__(self, version: _Optional[str] = ...) -> None: ...
