"""Exit codes of the ``storagebackend`` command, and which error ends with which.

Errors are mapped here, in one place, so every command reports the same
failure with the same code and a single line on stderr.
"""

from __future__ import annotations

from enum import IntEnum

from storagebackend.errors import (
    AuthenticationError,
    BackendUnavailableError,
    ConflictError,
    DocumentNotFoundError,
    InvalidKeyError,
    InvalidUIDError,
    InvalidValueError,
    StorageError,
    StorageLockedError,
    WrongKeyError,
)

__all__ = ["EXIT_CODES_HELP", "MEANINGS", "CommandError", "ExitCode", "exit_code_for"]


class ExitCode(IntEnum):
    """What the number a command exits with means."""

    OK = 0
    NO = 1
    USAGE = 2
    STORE = 3
    BUSY = 4
    UNAVAILABLE = 5
    CREDENTIALS = 6
    INTERNAL = 70
    INTERRUPTED = 130
    BROKEN_PIPE = 141


#: What each exit code means: the epilog of --help, and the README's table (a test compares them).
MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "success",
    ExitCode.NO: "not found (document or key), check found problems, or copy refused (DST not empty)",
    ExitCode.USAGE: "usage: bad arguments, URL, uid, key or value; unknown scheme, codec or option",
    ExitCode.STORE: "store error: missing, corrupt or unreadable store or file; I/O failure",
    ExitCode.BUSY: "store busy: locked by another process (see --lock-timeout), or changed remotely",
    ExitCode.UNAVAILABLE: "server unreachable (FTP, PostgreSQL, Redis)",
    ExitCode.CREDENTIALS: "credentials refused: wrong user or password, or wrong encryption key",
    ExitCode.INTERNAL: "internal error: a bug, please report it (--debug shows the traceback)",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C)",
    ExitCode.BROKEN_PIPE: "stdout closed early, e.g. piped into head (as for a tool killed by SIGPIPE)",
}

#: The epilog of ``storagebackend --help``; the README's table says the same.
EXIT_CODES_HELP = "exit codes:\n" + "\n".join(f"  {int(code):<3}  {text}" for code, text in MEANINGS.items())


class CommandError(Exception):
    """A failure a command detected itself: its message and exit code."""

    def __init__(self, message: str, code: ExitCode) -> None:
        super().__init__(message)
        self.code = code


def exit_code_for(exc: BaseException) -> ExitCode:
    """The exit code for an error that ended a command (INTERNAL for anything unexpected)."""
    if isinstance(exc, CommandError):
        return exc.code
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    if isinstance(exc, DocumentNotFoundError):
        return ExitCode.NO
    if isinstance(exc, (InvalidUIDError, InvalidKeyError, InvalidValueError)):
        return ExitCode.USAGE
    if isinstance(exc, (StorageLockedError, ConflictError)):
        return ExitCode.BUSY
    if isinstance(exc, BackendUnavailableError):
        return ExitCode.UNAVAILABLE
    if isinstance(exc, (AuthenticationError, WrongKeyError)):
        return ExitCode.CREDENTIALS
    if isinstance(exc, StorageError):
        return ExitCode.STORE
    return ExitCode.INTERNAL
