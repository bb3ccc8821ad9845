"""Container formats: zip (and what it turns out to be: PyTorch, TorchScript, npz, Keras), tar,
single-stream compressors and 7z. The checks live in `container_checks`; the analyzers in
`archive_zip` and `archive_streams`."""

from __future__ import annotations

from modelcert.checks.archive_streams import analyze_7z, analyze_tar, compressed_analyzer
from modelcert.checks.archive_zip import analyze_zip
from modelcert.checks.base import AnalyzerSpec

ANALYZERS: tuple[AnalyzerSpec, ...] = (
    AnalyzerSpec(formats=("zip",), analyze=analyze_zip),
    AnalyzerSpec(formats=("tar",), analyze=analyze_tar),
    AnalyzerSpec(formats=("7z",), analyze=analyze_7z),
    *(
        AnalyzerSpec(formats=(codec,), analyze=compressed_analyzer(codec))
        for codec in ("gzip", "bzip2", "xz", "zstd", "lz4", "zlib", "lzma")
    ),
)
