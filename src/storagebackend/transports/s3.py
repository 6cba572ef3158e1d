"""S3Transport: a store file kept as one object in an S3 bucket (AWS, or an S3-compatible server), with botocore.

``s3://bucket/dir/notes.json[?codec=NAME]``; the options ``endpoint_url`` (an
S3-compatible server: MinIO, Ceph, Garage, moto, ...), ``region``, ``timeout``
and the credentials ``access_key_id`` and ``secret_access_key`` (with
``session_token`` for temporary ones). Anything not given comes from the
standard AWS sources, as for the ``aws`` command: ``AWS_ACCESS_KEY_ID`` and the
other variables, ``AWS_ENDPOINT_URL_S3``, ``~/.aws/credentials`` and
``~/.aws/config`` (``AWS_PROFILE``), container and instance roles. Credentials
never go in the URL: ``s3://KEY:SECRET@bucket/...`` is refused, since URLs end
up in logs, shell histories and config files, and no AWS tool takes one.

The client is botocore, the core of boto3 (the AWS SDK for Python, kept by
AWS): the reference implementation of the credential chain, request signing
and S3's conditional writes. boto3's own additions (resources, s3transfer's
multipart uploads) are not needed: a store is written in one request.
obstore is faster at many parallel transfers, which a store never makes, and
younger; nothing here needs what it adds.

Each method is one S3 request (the ETag is the object's version, as the
version number is for MemoryTransport, the model):

- ``read``: GetObject, which returns the bytes and the ETag of exactly those
  bytes in one response (NoSuchKey: None, remembered as "missing");
- ``observe`` (flag ``"n"``): HeadObject, the ETag without the bytes;
- ``write``: one PutObject (never multipart, so S3 shows the old object or
  the new one, never a part), conditional: ``If-Match`` the ETag last read,
  observed or written, or ``If-None-Match: *`` when the object was missing
  (a transport that never looked writes unconditionally). A failed condition
  (412 PreconditionFailed, or 404 NoSuchKey for an object deleted since) is
  ConflictError and nothing is overwritten, unless the object already holds
  exactly the bytes to write (a retry of a write whose reply was lost, or
  another writer that wrote the same), which one GetObject tells;
- ``exists``: the default, True: nothing is locked or created before the
  first read, so ``read`` answers at no extra cost;
- ``lock``: nothing (S3 has no lock; the conditional write detects conflicts);
  no journal, since an object cannot be appended to.

A missing bucket is StoreNotFoundError under every flag: buckets are made by
their owner (with a region, a policy, a bill), never by a store. Wrong
credentials (InvalidAccessKeyId, SignatureDoesNotMatch, an expired token)
and credentials that cannot be found are AuthenticationError; AccessDenied is
StorageIOError (the key is valid but lacks a permission); an endpoint that
cannot be reached, or still fails after the retries, is
BackendUnavailableError naming its host and port. botocore's own retries are
off: each request runs through :mod:`storagebackend.retrying` (three tries,
0.2 s and 0.4 s apart), as FTP's and PostgreSQL's do, after a dropped or
refused connection, a timeout, a 5xx reply, throttling (SlowDown, 429) or a
409 ConditionalRequestConflict. The secret key and the session token never
appear in a message, log, ``repr`` or linked exception
(:mod:`storagebackend.redaction`, and a filter on botocore's two loggers that
show request headers at DEBUG level); the secret key is never sent either,
only used to sign.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeVar, cast
from urllib.parse import urlsplit

import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    FlexibleChecksumError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    SSLError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from storagebackend import server_errors
from storagebackend.defaults import S3_TIMEOUT
from storagebackend.errors import AuthenticationError, ConflictError, StorageError, StorageIOError, StoreNotFoundError
from storagebackend.redaction import MASK, scrub, scrub_exception
from storagebackend.retrying import RETRY, Retry
from storagebackend.timeouts import socket_timeout
from storagebackend.transports.base import Transport
from storagebackend.urls import ServerURL, parse_server, redact

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client

__all__ = ["SCHEME", "S3Transport"]

log = logging.getLogger(__name__)

SCHEME: Final = "s3"
_T = TypeVar("_T")
_UNREAD: Final = "unread"  # no read() or observe() yet: write() has nothing to check against
#: A bucket name as botocore sends it (S3 itself allows only lower case, digits, ``.`` and ``-`` today).
_BUCKET: Final = re.compile(r"[a-z0-9.\-_]{1,255}")
_KEY_BYTES: Final = 1024  # S3's longest key, in UTF-8 bytes
#: Replies meaning the credentials were refused (a wrong key, a wrong secret, a bad or expired token).
_REFUSED: Final = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidToken",
        "ExpiredToken",
        "TokenRefreshRequired",
        "InvalidClientTokenId",
        "AuthorizationHeaderMalformed",
    }
)
#: Replies worth another try besides every 5xx: throttling, a timeout, a concurrent conditional write.
_TRANSIENT: Final = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
        "ConditionalRequestConflict",
    }
)
#: A conditional PutObject whose condition failed: changed (412), or deleted since (404 NoSuchKey).
_CHANGED: Final = frozenset({"PreconditionFailed", "NoSuchKey"})
#: botocore's note that it did not retry (it is told not to: :mod:`storagebackend.retrying` does).
_NO_RETRIES: Final = re.compile(r" \(reached max retries: \d+\)")
#: Credentials that cannot be found or loaded: as good as refused.
_NO_CREDENTIALS: Final = (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError, ProfileNotFound)
#: Failures of the connection: the request may or may not have reached the server.
_DROPPED: Final = (BotoConnectionError, HTTPClientError, IncompleteReadError)

# botocore's service descriptions, loaded once for every client of the process (a new loader for each
# open costs about 0.1 s); each transport still has its own session, so the credential chain is read anew.
_LOADER_GUARD: Final = threading.Lock()
_LOADER: list[Any] = []


def _new_session() -> botocore.session.Session:
    session = botocore.session.get_session()
    with _LOADER_GUARD:
        if not _LOADER:
            _LOADER.append(session.get_component("data_loader"))
        session.register_component("data_loader", _LOADER[0])
    return session


class _HideSessionTokens(logging.Filter):
    """Masks the ``X-Amz-Security-Token`` header (a session token) in what botocore logs at DEBUG level.

    botocore logs each request's headers (``botocore.endpoint``) and the
    canonical request it signs (``botocore.auth``); the secret key is never in
    them, but a session token is. Every token is masked, this module's or not.
    """

    # The header in a dict's repr ('X-Amz-Security-Token': b'...'), and as a line of a canonical request.
    _IN_REPR: Final = re.compile(r"""(x-amz-security-token(['"])\s*:\s*b?(['"])).*?\3""", re.IGNORECASE)
    _IN_LINE: Final = re.compile(r"^(x-amz-security-token:).*$", re.IGNORECASE | re.MULTILINE)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = self._IN_LINE.sub(rf"\g<1>{MASK}", self._IN_REPR.sub(rf"\g<1>{MASK}\g<3>", message))
        if masked != message:
            record.msg, record.args = masked, ()
        return True


for _name in ("botocore.auth", "botocore.endpoint"):
    logging.getLogger(_name).addFilter(_HideSessionTokens())


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


class S3Transport(Transport):
    """A file as one object in an S3 bucket; conflicts are caught by conditional writes, since nothing locks."""

    remote = True
    supports_locking = False
    supports_journal = False
    options: ClassVar[frozenset[str]] = frozenset(
        {"endpoint_url", "region", "access_key_id", "secret_access_key", "session_token", "timeout"}
    )

    def __init__(
        self,
        bucket: str,
        key: str,
        *,
        query: dict[str, str] | None = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        timeout: float = S3_TIMEOUT,
        retry: Retry = RETRY,
    ) -> None:
        if not _BUCKET.fullmatch(bucket):
            raise ValueError(
                f"{bucket!r} is not an S3 bucket name (lower-case letters, digits, '.', '-'): "
                "give s3://BUCKET/KEY, e.g. s3://my-bucket/dir/notes.json"
            )
        if not key or key.endswith("/"):
            raise ValueError(f"s3://{bucket}/{key} names no object: give a key such as s3://{bucket}/dir/notes.json")
        if len(key.encode("utf-8", "surrogatepass")) > _KEY_BYTES:
            raise ValueError(f"the key of s3://{bucket}/... is longer than S3's {_KEY_BYTES} bytes")
        if (access_key_id is None) != (secret_access_key is None):
            raise ValueError("give both access_key_id and secret_access_key, or neither (the AWS sources then)")
        if session_token is not None and access_key_id is None:
            raise ValueError("session_token goes with access_key_id and secret_access_key")
        self.bucket = bucket
        #: The object's key: the file's path, whose extension names the codec.
        self.path = self.key = key
        self.query = dict(query or {})
        self.endpoint_url = endpoint_url
        #: The ``timeout`` option, checked by ``open`` (seconds >= 0, ``math.inf`` for none).
        self.timeout = timeout
        #: How often and how patiently a request is tried again.
        self.retry = retry
        self._access_key_id = access_key_id
        self._secrets = (secret_access_key, session_token)
        self._session = _new_session()
        wait = socket_timeout(timeout)
        config = Config(
            connect_timeout=wait,
            read_timeout=wait,
            retries={"total_max_attempts": 1},  # one retry policy: storagebackend.retrying's
            user_agent_extra="storagebackend",
        )
        try:
            client = self._session.create_client(
                "s3",
                endpoint_url=endpoint_url,
                region_name=region,
                aws_access_key_id=access_key_id,
                aws_secret_access_key=secret_access_key,
                aws_session_token=session_token,
                config=config,
            )
        except ProfileNotFound as exc:  # AWS_PROFILE names a profile the config files lack
            raise ValueError(f"{self.describe()}: {exc}") from None
        self._client = cast("S3Client", client)
        self._server = self._endpoint(self._client.meta.endpoint_url)
        self._seen: str | None = _UNREAD  # the ETag last read, observed or written; None: missing

    @classmethod
    def from_url(cls, url: str, **options: Any) -> S3Transport:
        """Parse ``s3://bucket/key[?codec=NAME]`` (the key percent-decoded); ValueError if malformed,
        if it names no object, or if it holds credentials (give them as options or through the AWS sources)."""
        authority = url.partition("//")[2].partition("/")[0]
        if "@" in authority:
            raise ValueError(
                "an s3:// URL takes no credentials (s3://KEY:SECRET@bucket/...): give access_key_id and "
                "secret_access_key, or set them in the AWS environment or config files"
            )
        if not url.lower().startswith(f"{SCHEME}://") or not authority:
            raise ValueError(
                f"URL {redact(url)!r} names no bucket: give s3://BUCKET/KEY, e.g. s3://my-bucket/notes.json"
            )
        if authority != authority.lower():
            raise ValueError(f"URL {url!r}: S3 bucket names are lower case")
        server = parse_server(url)
        if server.port is not None:
            raise ValueError(f"URL {url!r}: an s3:// URL has no port; give the server as endpoint_url")
        return cls(server.host, server.path, query=server.query, **options)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"

    def describe(self) -> str:
        query = "&".join(f"{name}={value}" for name, value in self.query.items())
        where = f"s3://{self.bucket}/{self.key}" + (f"?{query}" if query else "")
        return where if self.endpoint_url is None else f"{where} at {redact(self.endpoint_url)}"

    @staticmethod
    def _endpoint(url: str) -> ServerURL:
        """The endpoint as a ServerURL (host and port for messages; no user or password)."""
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return ServerURL(parts.scheme, parts.hostname or url, port, None, None, parts.path.lstrip("/"))

    # -- the contract --------------------------------------------------------------------------

    def read(self) -> bytes | None:
        """GetObject: the bytes (None if missing), their ETag remembered for :meth:`write`.

        Raises StoreNotFoundError (no bucket), AuthenticationError, BackendUnavailableError or StorageIOError.
        """
        found = self._call("download", self._get)
        self._seen = None if found is None else found[1]
        return None if found is None else found[0]

    def observe(self) -> bool:
        """HeadObject: remember the object's ETag (or that it is missing) without its bytes; True if it exists."""
        self._seen = self._call("look at the object", self._head)
        return self._seen is not None

    def write(self, data: bytes) -> None:
        """PutObject, on the condition that the object is the one last seen (or still missing).

        Raises ConflictError (nothing overwritten), StoreNotFoundError (no bucket), AuthenticationError,
        BackendUnavailableError or StorageIOError.
        """
        condition: dict[str, str] = {}
        if self._seen is None:
            condition["IfNoneMatch"] = "*"
        elif self._seen != _UNREAD:
            condition["IfMatch"] = self._seen

        def put() -> str | None:
            try:
                reply = self._client.put_object(Bucket=self.bucket, Key=self.key, Body=data, **condition)  # type: ignore[arg-type]
            except ClientError as exc:
                if condition and _code(exc) in _CHANGED:
                    return None  # not the object last seen: looked at below
                raise
            return reply["ETag"]

        etag = self._call("upload", put)
        if etag is None:
            now = self._call("download", self._get)
            if now is None or now[0] != data:
                seen = self._seen
                what = "was created" if seen is None else "was deleted" if now is None else "was changed"
                raise ConflictError(
                    f"{self.describe()}: the object {what} since this store last read or wrote it; nothing was "
                    "overwritten and the changes are kept: discard() and close(), then reopen to see the other version"
                )
            etag = now[1]  # it already holds exactly these bytes: nothing to write
        self._seen = etag

    def close(self) -> None:
        """Close the client's connections; twice is fine."""
        self._client.close()

    # -- requests --------------------------------------------------------------------------------

    def _get(self) -> tuple[bytes, str] | None:
        try:
            reply = self._client.get_object(Bucket=self.bucket, Key=self.key)
        except ClientError as exc:
            if _code(exc) == "NoSuchKey":
                return None
            raise
        with reply["Body"] as body:
            return body.read(), reply["ETag"]

    def _head(self) -> str | None:
        """The object's ETag, None if it is missing.

        A HEAD reply has no body, so its errors have no code: a missing bucket
        looks like a missing object (HeadBucket tells), a wrong key like a
        missing permission (GetObject, whose error says which, tells).
        """
        try:
            return self._client.head_object(Bucket=self.bucket, Key=self.key)["ETag"]
        except ClientError as exc:
            if _status(exc) >= 500 or _code(exc) != str(_status(exc)):
                raise  # worth another try, or a reply that says what it is
            missing = _status(exc) == 404
        if not missing:
            found = self._get()
            return None if found is None else found[1]
        self._client.head_bucket(Bucket=self.bucket)
        return None

    def _call(self, what: str, request: Callable[[], _T]) -> _T:
        """Run ``request``, again after a transient failure (:meth:`_again`), as :mod:`storagebackend.retrying` says.

        Raises the StorageError for the last failure (:meth:`_error`), its cause the failure cleaned of secrets.
        """
        try:
            return self.retry.call(request, self._again, f"{self.describe()}: {what}", self._secrets)
        except (ClientError, BotoCoreError) as exc:
            failure: Exception = exc
        # Raised here, outside the except block: the failure, cleaned, is the only exception linked.
        cause = scrub_exception(failure, self._secrets)
        raise self._error(what, failure) from cause

    @staticmethod
    def _again(exc: Exception) -> bool:
        """Whether a failed request is worth another try: a dropped or timed-out connection, 5xx, throttling."""
        if isinstance(exc, ClientError):
            return _status(exc) >= 500 or _status(exc) == 429 or _code(exc) in _TRANSIENT
        if isinstance(exc, SSLError):  # an untrusted certificate stays untrusted
            return False
        return isinstance(exc, (*_DROPPED, FlexibleChecksumError))

    def _error(self, what: str, failure: Exception) -> StorageError:
        """The StorageError for the failure that ended :meth:`_call`."""
        where = self.describe()
        reason = _NO_RETRIES.sub("", self._scrub(str(failure))) or type(failure).__name__
        if isinstance(failure, _NO_CREDENTIALS):
            hint = "give access_key_id and secret_access_key, or set them in the AWS environment or config files"
            return AuthenticationError(f"{where}: no AWS credentials to sign with: {reason} ({hint})")
        if isinstance(failure, SSLError):
            return server_errors.unavailable(
                "S3 endpoint", self._server, where, f"its certificate is not trusted: {reason}"
            )
        if isinstance(failure, ClientError):
            code, status = _code(failure), _status(failure)
            if code in _REFUSED:
                return server_errors.refused("S3 endpoint", self._server, where, reason, who=self._who())
            if code in ("NoSuchBucket", "404"):  # "404": HeadBucket's reply, which has no body
                return StoreNotFoundError(
                    f"{where}: the bucket {self.bucket!r} does not exist; a store does not create buckets "
                    "(their owner does, with a region and a policy): create it first, e.g. aws s3 mb s3://"
                    f"{self.bucket}"
                )
            if code == "AccessDenied" or status == 403:
                return StorageIOError(f"{where}: {what} refused: {reason} (these credentials lack a permission)")
            if self._again(failure):
                detail = f"it failed {self.retry.attempts} times (the last: {reason})"
                return server_errors.unavailable("S3 endpoint", self._server, f"{where}: {what}", detail)
            return StorageIOError(f"{where}: {what} refused by the server: {reason}")
        if isinstance(failure, _DROPPED):
            detail = f"cannot reach it ({self.retry.attempts} attempts; the last: {reason})"
            return server_errors.unavailable("S3 endpoint", self._server, f"{where}: {what}", detail)
        return StorageIOError(f"{where}: {what} failed: {reason}")

    def _who(self) -> str:
        """The access key the server refused, and where it came from (its id only: never the secret)."""
        key_id, source = self._access_key_id, "the options"
        if key_id is None:
            try:
                credentials = self._session.get_credentials()
            except BotoCoreError:
                credentials = None
            if credentials is None:
                return "the credentials"
            key_id, source = credentials.access_key, credentials.method
        return f"access key {self._scrub(key_id)!r} (from {source})"

    def _scrub(self, text: str) -> str:
        """``text`` without the secret key and session token (:func:`~storagebackend.redaction.scrub`)."""
        return scrub(text, self._secrets)
