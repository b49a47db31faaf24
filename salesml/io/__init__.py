"""Reading source files and writing exports: the only place (besides the warehouse) that touches files."""

from salesml.io.csv import (
    RawTable,
    SourceFileError,
    detect_encoding,
    file_hash,
    read_csv,
    read_header,
)

__all__ = ["RawTable", "SourceFileError", "detect_encoding", "file_hash", "read_csv", "read_header"]
