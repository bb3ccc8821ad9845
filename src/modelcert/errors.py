"""The one root error of modelcert, and one base per room.

Library code raises these; only the CLI turns them into messages and exit code 2.
"""

from __future__ import annotations


class ModelcertError(Exception):
    """Root of every error modelcert raises on purpose."""

    def diagnostics(self) -> str:
        """A human explanation, safe to print (no secrets, no raw payloads)."""
        return str(self) or type(self).__name__


class PackageError(ModelcertError):
    """The input path cannot be walked (missing, unreadable, not a file or folder)."""


class FormatError(ModelcertError):
    """A reader could not make sense of its bytes; the scanner turns this into a finding."""

    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.offset = offset


class LimitExceeded(FormatError):
    """A resource ceiling (bytes, members, nesting, opcodes) was hit; the scanner reports it."""
