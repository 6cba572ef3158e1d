"""FTPTransport: a store file on an FTP or FTPS server (stdlib ``ftplib``).

``ftp://user:password@host:port/dir/x.json``; ``ftps://`` is explicit TLS
(``AUTH TLS``) with a protected data channel (``PROT P``), the server's
certificate checked against the system's trusted ones unless an
``ssl_context`` is given. Paths are relative to the login folder (``//abs``
for an absolute one); user and password are percent-decoded. Passive mode,
binary transfers, one connection from the open to ``close()``.

FTP has no lock, so ``write`` refuses to overwrite a file that changed since
it was read: it uploads to a temporary name in the same folder, checks its
size, downloads the target again and compares its SHA-256 with the one read
(not size and MDTM: MDTM has one-second resolution and tools such as
``lftp mirror`` set it back, so two writes within a second would pass), and
only then renames the temporary file over the target. A difference, a file
that appeared or one that vanished is a ConflictError and the temporary file
is removed. Checking after the upload, not before, keeps the window in which
another writer can slip in down to one download; it cannot be closed without
a lock. Missing folders are created at the first write.

Dropped connections and 4xx replies are retried on a new connection, as
:mod:`storagebackend.retrying` says (three tries, 0.2 s and 0.4 s apart);
then BackendUnavailableError naming host and port. The password never appears
in messages, logs, ``repr`` or the exceptions linked to an error: every reply
is cleaned by :mod:`storagebackend.redaction` before it becomes a cause.
"""

from __future__ import annotations

import dataclasses
import ftplib
import hashlib
import io
import logging
import posixpath
import secrets
import socket
import ssl
from collections.abc import Callable
from typing import ClassVar, Final, TypeVar

from storagebackend import server_errors
from storagebackend.defaults import FTP_TIMEOUT
from storagebackend.errors import (
    ConflictError,
    StorageError,
    StorageIOError,
)
from storagebackend.redaction import scrub, scrub_exception
from storagebackend.retrying import RETRY, Retry
from storagebackend.timeouts import socket_timeout
from storagebackend.transports.base import Transport
from storagebackend.urls import ServerURL, parse_server

__all__ = ["DEFAULT_PORT", "FTPTransport"]

log = logging.getLogger(__name__)

DEFAULT_PORT: Final = 21
_T = TypeVar("_T")
# Failures worth a new connection: dropped or timed-out sockets, 4xx replies, a reply out of step.
_TRANSIENT: Final = (OSError, EOFError, ftplib.error_temp, ftplib.error_reply, ftplib.error_proto)
# Replies meaning "this server does not know the command".
_UNKNOWN_COMMAND: Final = ("500", "502", "504")
_UNREAD: Final = b"unread"  # no read() yet: write() has nothing to check against
# The reply to a login the server refuses: "530 Not logged in" (RFC 959).
_LOGIN_REFUSED: Final = "530"


class _ShortUpload(Exception):
    """The uploaded temporary file has the wrong size: retried like a dropped connection."""


class _FTPS(ftplib.FTP_TLS):
    """``FTP_TLS`` whose data connections resume the control connection's TLS session.

    vsftpd (``require_ssl_reuse``, its default), FileZilla Server and others refuse
    a data connection that starts a new session; ftplib does not reuse one
    (https://bugs.python.org/issue19500), hence this override.
    """

    def ntransfercmd(self, cmd: str, rest: int | str | None = None) -> tuple[socket.socket, int | None]:
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:  # type: ignore[attr-defined]
            session = self.sock.session if isinstance(self.sock, ssl.SSLSocket) else None
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=session)
        return conn, size


class FTPTransport(Transport):
    """A file on an FTP/FTPS server; conflicts are detected, since nothing can be locked."""

    remote = True
    supports_locking = False
    options: ClassVar[frozenset[str]] = frozenset({"timeout", "ssl_context"})

    def __init__(
        self,
        server: ServerURL,
        *,
        timeout: float = FTP_TIMEOUT,
        ssl_context: ssl.SSLContext | None = None,
        retry: Retry = RETRY,
    ) -> None:
        if server.scheme not in ("ftp", "ftps"):
            raise ValueError(f"URL {server} is not ftp:// or ftps://")
        if not server.path or server.path.endswith("/"):
            raise ValueError(f"URL {server} names no file: give a path such as ftp://host/dir/store.json")
        if any(char in server.path for char in "\r\n\0"):
            raise ValueError(f"URL {server}: the path contains a line break or NUL, which FTP cannot send")
        if ssl_context is not None and server.scheme != "ftps":
            raise ValueError(f"ssl_context is only for ftps:// URLs, not {server}")
        self.server = server if server.port is not None else dataclasses.replace(server, port=DEFAULT_PORT)
        #: The file's path on the server, relative to the login folder.
        self.path = server.path
        #: The URL's query parameters (e.g. ``codec``).
        self.query = dict(server.query)
        #: The ``timeout`` option, checked by ``open`` (seconds >= 0, ``math.inf`` for none).
        self.timeout = timeout
        #: How often and how patiently an operation is tried again after a dropped connection.
        self.retry = retry
        self._secrets = (server.password,)
        self._ssl_context = ssl_context
        self._ftp: ftplib.FTP | None = None
        self._expected: bytes | None = _UNREAD  # SHA-256 of the file as last read or written; None: missing
        # SHA-256 of uploads whose rename was sent but not confirmed (the connection dropped): the
        # file may hold them now, and that is no conflict, since nobody else wrote them.
        self._maybe_written: set[bytes] = set()
        # Temporary files this store uploaded and has not renamed or removed yet (the connection
        # dropped): removed at the next write. Only our own: another writer's may be in use.
        self._temporaries: set[str] = set()

    @classmethod
    def from_url(
        cls, url: str, *, timeout: float = FTP_TIMEOUT, ssl_context: ssl.SSLContext | None = None
    ) -> FTPTransport:
        """Parse ``ftp[s]://[user[:password]@]host[:port]/path[?codec=NAME]``; ValueError if malformed."""
        return cls(parse_server(url, default_port=DEFAULT_PORT), timeout=timeout, ssl_context=ssl_context)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"

    def describe(self) -> str:
        return str(self.server)

    @property
    def socket_timeout(self) -> float | None:
        """``timeout`` as sockets take it (:func:`~storagebackend.timeouts.socket_timeout`): None waits forever."""
        return socket_timeout(self.timeout)

    # -- the contract --------------------------------------------------------------

    def read(self) -> bytes | None:
        """Download the file (None if it does not exist) and remember its hash for :meth:`write`.

        Raises BackendUnavailableError or StorageIOError.
        """
        data = self._run("download", self._fetch)
        self._expected = None if data is None else hashlib.sha256(data).digest()
        return data

    def write(self, data: bytes) -> None:
        """Upload to a temporary name, check nobody changed the file since it was read, rename over it.

        Raises ConflictError (nothing overwritten), BackendUnavailableError or StorageIOError.
        """
        digest = hashlib.sha256(data).digest()
        self._run("upload", lambda ftp: self._replace(ftp, data, digest))
        self._expected = digest
        self._maybe_written.clear()

    def close(self) -> None:
        """Say goodbye to the server and close the connection; twice is fine."""
        ftp, self._ftp = self._ftp, None
        if ftp is None:
            return
        try:
            ftp.quit()
        except (*_TRANSIENT, ftplib.Error):
            ftp.close()

    # -- connection and error mapping ----------------------------------------------------

    def _run(self, what: str, operation: Callable[[ftplib.FTP], _T]) -> _T:
        """Run ``operation`` on a connection, on a new one after a transient failure (see :meth:`_again`).

        Raises the StorageError the operation raised, else BackendUnavailableError
        or StorageIOError whose cause is the failure, cleaned of the password.
        """
        try:
            return self.retry.call(
                lambda: operation(self._connection()), self._again, f"{self.describe()}: {what}", self._secrets
            )
        except StorageError:  # already mapped (a conflict, refused credentials), though many are OSErrors
            raise
        except (*_TRANSIENT, _ShortUpload, ftplib.Error) as exc:
            failure = exc
        # Raised here, outside the except block: the failure, cleaned, is the only one linked.
        cause = scrub_exception(failure, self._secrets)
        raise self._error(what, failure) from cause

    def _again(self, exc: Exception) -> bool:
        """Whether a failed operation is worth another try: a dropped or timed-out connection, a 4xx reply.

        The connection is dropped after such a failure and after an untrusted certificate.
        """
        if isinstance(exc, StorageError):  # mapped already: an answer, not a dropped connection
            return False
        if isinstance(exc, ssl.SSLCertVerificationError):
            self._drop()
            return False
        if isinstance(exc, (*_TRANSIENT, _ShortUpload)):
            self._drop()
            return True
        return False

    def _error(self, what: str, failure: Exception) -> StorageError:
        """The StorageError for the failure that ended :meth:`_run`."""
        reason = self._scrub(str(failure)) or type(failure).__name__
        if isinstance(failure, ssl.SSLCertVerificationError):
            detail = f"its certificate is not trusted: {reason}"
            return server_errors.unavailable("FTPS server", self.server, self.describe(), detail)
        if isinstance(failure, ftplib.error_perm):
            return StorageIOError(f"{self.describe()}: {what} refused by the server: {reason}")
        attempts = self.retry.attempts
        if isinstance(failure, _ShortUpload):
            return StorageIOError(f"{self.describe()}: {what} failed {attempts} times: {reason}")
        detail = f"cannot reach it ({attempts} attempts; the last: {reason})"
        return server_errors.unavailable("FTP server", self.server, f"{self.describe()}: {what}", detail)

    def _connection(self) -> ftplib.FTP:
        if self._ftp is None:
            self._ftp = self._connect()
        return self._ftp

    def _connect(self) -> ftplib.FTP:
        """Connect, (FTPS: ``AUTH TLS``), log in, (FTPS: ``PROT P``), binary mode, passive."""
        server = self.server
        ftp: ftplib.FTP
        if server.scheme == "ftps":
            context = self._ssl_context or ssl.create_default_context()
            ftp = _FTPS(context=context, timeout=self.socket_timeout)
        else:
            ftp = ftplib.FTP(timeout=self.socket_timeout)
        step = "the connection"
        login = f"the login of user {server.user or 'anonymous'!r}"
        refusal: ftplib.error_perm | None = None
        try:
            ftp.connect(server.host, server.port or DEFAULT_PORT)  # the port was set in __init__
            if isinstance(ftp, ftplib.FTP_TLS):
                step = "TLS (AUTH TLS)"
                ftp.auth()
            step = login
            ftp.login(server.user or "anonymous", server.password or "")
            if isinstance(ftp, ftplib.FTP_TLS):
                step = "a protected data channel (PROT P)"
                ftp.prot_p()
            step = "binary mode (TYPE I)"
            ftp.voidcmd("TYPE I")
            ftp.set_pasv(True)
        except ftplib.error_perm as exc:
            refusal = exc
        except BaseException:
            ftp.close()
            raise
        if refusal is None:
            return ftp
        # Raised here, outside the except block, and from the reply cleaned of the password (a
        # server may write it into its reply): nothing else is linked to the error.
        ftp.close()
        cause = scrub_exception(refusal, self._secrets)
        reply = self._scrub(str(cause))
        if step == login and reply.startswith(_LOGIN_REFUSED):
            detail = f"{reply} (wrong user or password?)"
            raise server_errors.refused("FTP server", server, self.describe(), detail, who=login) from cause
        raise server_errors.unavailable("FTP server", server, self.describe(), f"it refused {step}: {reply}") from cause

    def _drop(self) -> None:
        """Forget a connection that failed (without waiting for a QUIT reply)."""
        ftp, self._ftp = self._ftp, None
        if ftp is not None:
            ftp.close()

    def _scrub(self, text: str) -> str:
        """``text`` without the password (:func:`~storagebackend.redaction.scrub`)."""
        return scrub(text, self._secrets)

    # -- operations on a connection ----------------------------------------------------------

    def _fetch(self, ftp: ftplib.FTP) -> bytes | None:
        """The file's bytes, or None if the server says it is missing."""
        chunks: list[bytes] = []
        try:
            ftp.retrbinary(f"RETR {self.path}", chunks.append)
        except ftplib.error_perm:
            if not self._listed(ftp):
                return None
            raise  # it is there, but cannot be read (permission, a folder, ...)
        return b"".join(chunks)

    def _listed(self, ftp: ftplib.FTP) -> bool:
        """Whether the file's folder lists it (a missing folder lists nothing)."""
        folder, name = posixpath.split(self.path)
        try:
            names = ftp.nlst(folder) if folder else ftp.nlst()
        except ftplib.error_perm:
            return False
        return name in {posixpath.basename(entry.rstrip("/")) for entry in names}

    def _replace(self, ftp: ftplib.FTP, data: bytes, digest: bytes) -> None:
        for stale in list(self._temporaries):
            self._remove_quietly(ftp, stale)
        folder, name = posixpath.split(self.path)
        temporary = posixpath.join(folder, f".{name}.{secrets.token_hex(8)}.tmp")
        self._temporaries.add(temporary)
        self._upload(ftp, temporary, data, folder)
        keep_temporary = False
        try:
            self._check_size(ftp, temporary, len(data))
            current = self._fetch(ftp)
            current_digest = None if current is None else hashlib.sha256(current).digest()
            if current_digest == digest:
                return  # it already holds exactly these bytes (e.g. our rename whose reply was lost)
            unchanged = current_digest == self._expected or current_digest in self._maybe_written
            if self._expected is not _UNREAD and not unchanged:
                what = "was created" if self._expected is None else "was deleted" if current is None else "changed"
                raise ConflictError(
                    f"{self.describe()}: the file {what} on the server since this store read it; "
                    "nothing was overwritten (reopen the store to see the other writer's data)"
                )
            self._maybe_written.add(digest)
            try:
                ftp.rename(temporary, self.path)
            except ftplib.error_perm as exc:
                if current is None:
                    raise
                # Some servers refuse to rename over an existing file: delete it, then rename.
                # For that moment the file is missing on the server; the new bytes are in `temporary`.
                log.warning(
                    "%s: the server refused to rename over the existing file (%s); deleting it first",
                    self.describe(), self._scrub(str(exc)),
                )  # fmt: skip
                ftp.delete(self.path)
                keep_temporary = True
                self._temporaries.discard(temporary)  # the only copy of the new data until the rename
                ftp.rename(temporary, self.path)
            self._temporaries.discard(temporary)
            temporary = ""
        except ftplib.error_perm as exc:
            if keep_temporary:
                cause = scrub_exception(exc, self._secrets)  # in place: exc stays linked as __context__ too
                raise StorageIOError(
                    f"{self.describe()}: the old file was deleted but the rename failed: "
                    f"{self._scrub(str(cause))}; the new data is in {temporary} on the server"
                ) from cause
            raise
        finally:
            if temporary and not keep_temporary:
                self._remove_quietly(ftp, temporary)

    def _upload(self, ftp: ftplib.FTP, temporary: str, data: bytes, folder: str) -> None:
        """STOR ``data`` as ``temporary``, creating the missing folders if the server refuses."""
        try:
            ftp.storbinary(f"STOR {temporary}", io.BytesIO(data))
        except ftplib.error_perm:
            if not folder:
                raise
            self._make_folders(ftp, folder)
            ftp.storbinary(f"STOR {temporary}", io.BytesIO(data))

    def _make_folders(self, ftp: ftplib.FTP, folder: str) -> None:
        """MKD each level of ``folder``; a level that exists is refused, which is fine."""
        prefix = "/" if folder.startswith("/") else ""
        for part in folder.split("/"):
            if not part:
                continue
            prefix = posixpath.join(prefix, part)
            try:
                ftp.mkd(prefix)
                log.info("%s: created the folder %s", self.describe(), prefix)
            except ftplib.error_perm:
                pass  # it exists, or cannot be made: the STOR that follows tells

    def _check_size(self, ftp: ftplib.FTP, temporary: str, expected: int) -> None:
        try:
            size = ftp.size(temporary)
        except ftplib.error_perm as exc:
            if str(exc)[:3] in _UNKNOWN_COMMAND:
                return  # no SIZE on this server: trust the transfer's 226 reply
            raise
        if size != expected:
            raise _ShortUpload(f"the uploaded {temporary} has {size} bytes instead of {expected}")

    def _remove_quietly(self, ftp: ftplib.FTP, temporary: str) -> None:
        """Delete a temporary file of ours; if the connection fails, the next write tries again."""
        try:
            ftp.delete(temporary)
        except ftplib.error_perm as exc:  # not there (its upload never began), or not ours to remove
            log.debug("%s: did not remove %s: %s", self.describe(), temporary, self._scrub(str(exc)))
        except (*_TRANSIENT, ftplib.Error):
            log.warning(
                "%s: cannot remove the temporary file %s on the server now; trying again at the next sync",
                self.describe(), temporary,
            )  # fmt: skip
            return
        self._temporaries.discard(temporary)
