"""Resource ceilings for reading untrusted input, in one frozen dataclass passed down explicitly."""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass(frozen=True)
class Limits:
    """Every reader consults these; hitting one is a finding, never a crash or a pass."""

    # Pickle-family streams
    max_pickle_bytes: int = 256 * MiB  # one pickle stream analysed in memory
    max_pickle_opcodes: int = 5_000_000
    max_pickle_streams: int = 64  # per file (legacy torch has 5, joblib several)
    max_pickle_stack_depth: int = 100_000
    max_nested_pickle_depth: int = 4  # pickles inside bytes handed to loads()
    # Containers and archives
    max_archive_members: int = 100_000
    max_member_bytes: int = 8 * GiB  # one decompressed member
    max_total_unpacked_bytes: int = 32 * GiB  # per top-level file
    max_compression_ratio: int = 200  # decompressed / compressed, beyond is a bomb
    max_nesting: int = 5  # archive inside archive inside ...
    in_memory_member_bytes: int = 64 * MiB  # larger members are spooled to a temp file
    # Structured formats
    max_json_bytes: int = 64 * MiB
    max_json_depth: int = 200
    max_header_bytes: int = 100 * MiB  # safetensors / GGUF header and metadata
    max_count: int = 10_000_000  # any declared count (tensors, KV pairs, array items)
    max_string_bytes: int = 64 * MiB
    max_text_bytes: int = 16 * MiB  # templates, python files, configs analysed as text
    # Walk
    max_files: int = 1_000_000
    read_chunk_bytes: int = 1 * MiB
    max_graph_depth: int = 64  # ONNX subgraphs, TF function calls, protobuf message nesting
    compression_ratio_min_bytes: int = 128 * MiB  # outputs below this never count as bombs by ratio


DEFAULT_LIMITS = Limits()
