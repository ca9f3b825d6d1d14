from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

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

class VersionRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VersionReply(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: str
    def __init__(self, version: _Optional[str] = ...) -> None: ...
