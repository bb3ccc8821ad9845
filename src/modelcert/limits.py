"""Resource ceilings for reading untrusted input, in one frozen record passed down explicitly."""

from __future__ import annotations

from typing import Final

from modelcert.records import Record

MiB = 1024 * 1024
GiB = 1024 * MiB


class Limits(Record):
    """Every reader consults these; hitting one is a finding, never a crash or a pass."""

    __slots__ = (
        "compression_ratio_min_bytes", "in_memory_member_bytes", "max_archive_members",
        "max_compression_ratio", "max_count", "max_files", "max_graph_depth", "max_header_bytes",
        "max_json_bytes", "max_json_depth", "max_member_bytes", "max_nested_pickle_depth", "max_nesting",
        "max_pickle_bytes", "max_pickle_opcodes", "max_pickle_stack_depth", "max_pickle_streams",
        "max_string_bytes", "max_text_bytes", "max_total_unpacked_bytes", "read_chunk_bytes",
    )  # fmt: skip
    # Pickle-family streams
    max_pickle_bytes: Final[int]  # one pickle stream analysed in memory
    max_pickle_opcodes: Final[int]
    max_pickle_streams: Final[int]  # per file (legacy torch has 5, joblib several)
    max_pickle_stack_depth: Final[int]
    max_nested_pickle_depth: Final[int]  # pickles inside bytes handed to loads()
    # Containers and archives
    max_archive_members: Final[int]
    max_member_bytes: Final[int]  # one decompressed member
    max_total_unpacked_bytes: Final[int]  # per top-level file
    max_compression_ratio: Final[int]  # decompressed / compressed, beyond is a bomb
    max_nesting: Final[int]  # archive inside archive inside ...
    in_memory_member_bytes: Final[int]  # larger members are spooled to a temp file
    # Structured formats
    max_json_bytes: Final[int]
    max_json_depth: Final[int]
    max_header_bytes: Final[int]  # safetensors / GGUF header and metadata
    max_count: Final[int]  # any declared count (tensors, KV pairs, array items)
    max_string_bytes: Final[int]
    max_text_bytes: Final[int]  # templates, python files, configs analysed as text
    # Walk
    max_files: Final[int]
    read_chunk_bytes: Final[int]
    max_graph_depth: Final[int]  # ONNX subgraphs, TF function calls, protobuf message nesting
    compression_ratio_min_bytes: Final[int]  # outputs below this never count as bombs by ratio

    def __init__(
        self,
        max_pickle_bytes: int = 256 * MiB,
        max_pickle_opcodes: int = 5_000_000,
        max_pickle_streams: int = 64,
        max_pickle_stack_depth: int = 100_000,
        max_nested_pickle_depth: int = 4,
        max_archive_members: int = 100_000,
        max_member_bytes: int = 8 * GiB,
        max_total_unpacked_bytes: int = 32 * GiB,
        max_compression_ratio: int = 200,
        max_nesting: int = 5,
        in_memory_member_bytes: int = 64 * MiB,
        max_json_bytes: int = 64 * MiB,
        max_json_depth: int = 200,
        max_header_bytes: int = 100 * MiB,
        max_count: int = 10_000_000,
        max_string_bytes: int = 64 * MiB,
        max_text_bytes: int = 16 * MiB,
        max_files: int = 1_000_000,
        read_chunk_bytes: int = 1 * MiB,
        max_graph_depth: int = 64,
        compression_ratio_min_bytes: int = 128 * MiB,
    ) -> None:
        self.max_pickle_bytes = max_pickle_bytes
        self.max_pickle_opcodes = max_pickle_opcodes
        self.max_pickle_streams = max_pickle_streams
        self.max_pickle_stack_depth = max_pickle_stack_depth
        self.max_nested_pickle_depth = max_nested_pickle_depth
        self.max_archive_members = max_archive_members
        self.max_member_bytes = max_member_bytes
        self.max_total_unpacked_bytes = max_total_unpacked_bytes
        self.max_compression_ratio = max_compression_ratio
        self.max_nesting = max_nesting
        self.in_memory_member_bytes = in_memory_member_bytes
        self.max_json_bytes = max_json_bytes
        self.max_json_depth = max_json_depth
        self.max_header_bytes = max_header_bytes
        self.max_count = max_count
        self.max_string_bytes = max_string_bytes
        self.max_text_bytes = max_text_bytes
        self.max_files = max_files
        self.read_chunk_bytes = read_chunk_bytes
        self.max_graph_depth = max_graph_depth
        self.compression_ratio_min_bytes = compression_ratio_min_bytes


DEFAULT_LIMITS = Limits()
