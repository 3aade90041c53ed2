"""Exit codes shared by every verb, and the error type for a user's mistake."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FATAL = 1
    USAGE = 2
    PARTIAL = 3  # finished, but some items failed


class UserError(Exception):
    """A mistake the user can fix: printed as one line (which names the fix), never a traceback."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FATAL) -> None:
        super().__init__(message)
        self.code = code
