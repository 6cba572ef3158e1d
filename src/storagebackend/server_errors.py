"""The words of the two failures every server backend and transport meets (API.md 8).

A server that refused the credentials is AuthenticationError; one that cannot
be reached, or dropped the connection, is BackendUnavailableError. Both name
the server, its host and port, and the store (``where``, never with a
password); a refusal also names the user. PostgreSQL, Redis and FTP build
theirs here, so the same failure reads the same on each.
"""

from __future__ import annotations

from storagebackend.errors import AuthenticationError, BackendUnavailableError
from storagebackend.urls import ServerURL

__all__ = ["refused", "unavailable"]


def refused(kind: str, server: ServerURL, where: str, detail: str, who: str = "") -> AuthenticationError:
    """``kind`` (e.g. "PostgreSQL") at ``server`` refused the user (or ``who``, e.g. "the login of user 'x'")."""
    if not who:
        who = f"user {server.user!r}" if server.user else "the default user"
    return AuthenticationError(f"{kind} at {server.address} refused {who} ({where}): {detail}")


def unavailable(kind: str, server: ServerURL, where: str, detail: str) -> BackendUnavailableError:
    """``kind`` at ``server`` cannot be reached, or dropped the connection (``detail`` says which)."""
    return BackendUnavailableError(f"{kind} at {server.address} is unavailable ({where}): {detail}")
