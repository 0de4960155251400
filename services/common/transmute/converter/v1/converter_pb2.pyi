from google.protobuf import struct_pb2 as _struct_pb2
from transmute.jobs.v1 import jobs_pb2 as _jobs_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Conversion(_message.Message):
    __slots__ = ("operation", "inputs", "outputs", "max_inputs")
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    MAX_INPUTS_FIELD_NUMBER: _ClassVar[int]
    operation: str
    inputs: _containers.RepeatedScalarFieldContainer[str]
    outputs: _containers.RepeatedScalarFieldContainer[str]
    max_inputs: int
    def __init__(self, operation: _Optional[str] = ..., inputs: _Optional[_Iterable[str]] = ..., outputs: _Optional[_Iterable[str]] = ..., max_inputs: _Optional[int] = ...) -> None: ...

class OptionSpec(_message.Message):
    __slots__ = ("name", "type", "description", "default", "choices", "minimum", "maximum", "operations")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_FIELD_NUMBER: _ClassVar[int]
    CHOICES_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_FIELD_NUMBER: _ClassVar[int]
    MAXIMUM_FIELD_NUMBER: _ClassVar[int]
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    description: str
    default: str
    choices: _containers.RepeatedScalarFieldContainer[str]
    minimum: float
    maximum: float
    operations: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., description: _Optional[str] = ..., default: _Optional[str] = ..., choices: _Optional[_Iterable[str]] = ..., minimum: _Optional[float] = ..., maximum: _Optional[float] = ..., operations: _Optional[_Iterable[str]] = ...) -> None: ...

class CapabilitiesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CapabilitiesResponse(_message.Message):
    __slots__ = ("service", "conversions", "options", "engine_version")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    CONVERSIONS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    ENGINE_VERSION_FIELD_NUMBER: _ClassVar[int]
    service: str
    conversions: _containers.RepeatedCompositeFieldContainer[Conversion]
    options: _containers.RepeatedCompositeFieldContainer[OptionSpec]
    engine_version: str
    def __init__(self, service: _Optional[str] = ..., conversions: _Optional[_Iterable[_Union[Conversion, _Mapping]]] = ..., options: _Optional[_Iterable[_Union[OptionSpec, _Mapping]]] = ..., engine_version: _Optional[str] = ...) -> None: ...

class ConvertRequest(_message.Message):
    __slots__ = ("tenant", "operation", "inputs", "target", "options", "output_prefix")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_PREFIX_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    operation: str
    inputs: _containers.RepeatedCompositeFieldContainer[_jobs_pb2.FileRef]
    target: str
    options: _struct_pb2.Struct
    output_prefix: str
    def __init__(self, tenant: _Optional[str] = ..., operation: _Optional[str] = ..., inputs: _Optional[_Iterable[_Union[_jobs_pb2.FileRef, _Mapping]]] = ..., target: _Optional[str] = ..., options: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., output_prefix: _Optional[str] = ...) -> None: ...

class ConvertResult(_message.Message):
    __slots__ = ("outputs",)
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    outputs: _containers.RepeatedCompositeFieldContainer[_jobs_pb2.FileRef]
    def __init__(self, outputs: _Optional[_Iterable[_Union[_jobs_pb2.FileRef, _Mapping]]] = ...) -> None: ...

class ConvertResponse(_message.Message):
    __slots__ = ("progress", "result")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: _jobs_pb2.Progress
    result: ConvertResult
    def __init__(self, progress: _Optional[_Union[_jobs_pb2.Progress, _Mapping]] = ..., result: _Optional[_Union[ConvertResult, _Mapping]] = ...) -> None: ...
