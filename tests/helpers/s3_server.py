"""A real S3 API server (moto's standalone server) in a child process, for the tests.

A child process (not a thread) so that a test can kill it with SIGKILL at any
moment and start it again on the same port, as a crash would. Moto keeps its
buckets in memory: a restarted server is empty (and has a new key). Run as
a script it serves until killed, after printing its port.

The server checks credentials as S3 does: once it listens, :meth:`S3Server.start`
makes an IAM user allowed everything, with one access key, and then turns
moto's request authentication on, so a wrong key is InvalidAccessKeyId and a
wrong secret SignatureDoesNotMatch, as on AWS.

Faults (as ``ftp_server.py`` has), at exact moments of a PutObject of an
object (never of a bucket; GetObject for ``drop-download``), set at run time by a ``POST /_sb/fault`` whose
body is ``NAME COUNT`` (the next COUNT uploads; ``none 0`` clears them):

- ``kill-upload``: the server reads half the body, then dies (SIGKILL);
- ``cut-upload``: it reads half the body, then drops the connection (the
  object is left as it was: the request never reached moto);
- ``drop-reply``: moto stores the object, then the connection is dropped
  before the reply (the client cannot tell whether it was written);
- ``drop-download``: on a GetObject instead, the connection is dropped
  before the reply.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

#: The faults of the module docstring.
FAULTS = ("kill-upload", "cut-upload", "drop-reply", "drop-download")
REGION = "us-east-1"
_ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


def _serve(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    pending: dict[str, Any] = {"name": None, "count": 0}
    guard = threading.Lock()

    def take_fault(environ: dict[str, Any]) -> str | None:
        """The fault for this request, if one is pending for it (a PutObject, or a GetObject)."""
        path = environ.get("PATH_INFO", "").strip("/")
        if "/" not in path or environ.get("QUERY_STRING"):
            return None  # a bucket's request, or a listing
        wanted = "GET" if pending["name"] == "drop-download" else "PUT"
        with guard:
            if not pending["count"] or environ["REQUEST_METHOD"] != wanted:
                return None
            pending["count"] -= 1
            return str(pending["name"])

    def drop(environ: dict[str, Any]) -> None:
        connection: socket.socket = environ["werkzeug.socket"]
        connection.shutdown(socket.SHUT_RDWR)

    moto = DomainDispatcherApplication(create_backend_app)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/_sb/fault":
            name, count = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)).decode().split()
            with guard:
                pending.update(name=name, count=int(count))
            start_response("204 No Content", [])
            return []
        fault = take_fault(environ)
        if fault in ("kill-upload", "cut-upload"):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            environ["wsgi.input"].read(max(length // 2, 1))
            if fault == "kill-upload":
                os.kill(os.getpid(), signal.SIGKILL)
            drop(environ)
            start_response("500 Internal Server Error", [])
            return []
        body = b"".join(moto(environ, lambda status, headers, *more: start_response(status, headers, *more)))
        if fault in ("drop-reply", "drop-download"):
            drop(environ)
            return []
        return [body]

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line for each request
    server = make_server("127.0.0.1", args.port, app, threaded=True, request_handler=MotoRequestHandler)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


class S3Server:
    """Starts, stops and kills the server process; knows its endpoint and credentials, makes buckets."""

    def __init__(self, *, authenticate: bool = True) -> None:
        #: Whether the server checks credentials (a restarted one gets a new key; without, any key does).
        self.authenticate = authenticate
        self.port = 0
        self.access_key_id = "AKIASTORAGEBACKEND00"
        self.secret_access_key = "any secret will do without authentication"
        self.process: subprocess.Popen[str] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def options(self, **more: object) -> dict[str, object]:
        """The options of ``sb.open`` for a store on this server."""
        return {
            "endpoint_url": self.endpoint_url,
            "region": REGION,
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
            **more,
        }

    def start(self) -> None:
        """Start the server (on the same port as before, if it ran already: new, empty, with a new key)."""
        command = [sys.executable, __file__, "--port", str(self.port)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            self.process.kill()
            self.process.wait()
            raise RuntimeError(f"the S3 server did not start: {line!r}")
        self.port = int(line.split()[1])
        if self.authenticate:
            self._authenticate()

    def _authenticate(self) -> None:
        """Make an IAM user allowed everything with one access key, then have moto check every request.

        botocore's DEBUG log would show the new secret key (it logs replies): a test that looks for it
        in the log, and starts the server meanwhile, must not find it there.
        """
        botocore_log = logging.getLogger("botocore")
        level = botocore_log.level
        botocore_log.setLevel(logging.INFO)
        try:
            self._make_key()
        finally:
            botocore_log.setLevel(level)
        # moto's documented switch (what its set_initial_no_auth_action_count does in server mode).
        request = urllib.request.Request(
            f"{self.endpoint_url}/moto-api/reset-auth", b"0", {"Content-Type": "text/plain"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=10):
            pass

    def _make_key(self) -> None:
        import boto3

        iam = boto3.client(
            "iam", endpoint_url=self.endpoint_url, region_name=REGION, aws_access_key_id="setup",
            aws_secret_access_key="setup",
        )  # fmt: skip
        iam.create_user(UserName="sb-tests")
        iam.put_user_policy(UserName="sb-tests", PolicyName="everything", PolicyDocument=_ALLOW_ALL)
        key = iam.create_access_key(UserName="sb-tests")["AccessKey"]
        self.access_key_id, self.secret_access_key = key["AccessKeyId"], key["SecretAccessKey"]

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the server (SIGKILL: as if it crashed) and wait for it to exit."""
        process, self.process = self.process, None
        if process is not None:
            process.send_signal(sig)
            process.wait(timeout=10)
            if process.stdout is not None:
                process.stdout.close()

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def died(self) -> bool:
        """Whether the server process ended by itself (a fault); reaps it if so."""
        if self.process is None or self.process.poll() is None:
            return False
        self.stop()
        return True

    def client(self) -> Any:
        """A boto3 S3 client with the server's credentials, to look at or tamper with objects."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
        )

    def iam(self) -> Any:
        """A boto3 IAM client with the server's credentials, to make more users and keys."""
        import boto3

        return boto3.client(
            "iam", endpoint_url=self.endpoint_url, region_name=REGION, aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
        )  # fmt: skip

    def new_bucket(self, hint: str = "") -> str:
        """Make a bucket of a fresh name (from ``hint``, e.g. the test's name) and return its name."""
        cleaned = "".join(char if char.isalnum() else "-" for char in hint.lower())[:40].strip("-")
        name = f"sb-{cleaned}-{uuid.uuid4().hex[:8]}".replace("--", "-")
        self.client().create_bucket(Bucket=name)
        return name

    def fault(self, name: str, count: int = 1) -> None:
        """Make the next ``count`` uploads fail as ``name`` says (see the module docstring)."""
        if name not in (*FAULTS, "none"):
            raise ValueError(f"unknown fault {name!r}")
        body = f"{name} {count}".encode()
        request = urllib.request.Request(
            f"{self.endpoint_url}/_sb/fault", body, {"Content-Type": "text/plain"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=10):
            pass


def running(*, authenticate: bool = True) -> Iterator[S3Server]:
    """Start a server, yield it, kill it at the end; skip (fail under CI=true) if moto is not installed."""
    from helpers.servers import unavailable

    try:
        import moto  # noqa: F401
    except ImportError:
        unavailable("moto is not installed (pip install 'moto[server]', part of the test extra)")
    server = S3Server(authenticate=authenticate)
    server.start()
    try:
        yield server
    finally:
        server.kill()


if __name__ == "__main__":
    _serve(sys.argv[1:])
