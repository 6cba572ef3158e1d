"""A real pyftpdlib FTP/FTPS server in a child process, for the tests.

A child process (not a thread) so that a test can stop it, kill it with
SIGKILL at any moment and start it again on the same port, as a crash would.
Run as a script it serves one user until killed; :class:`FTPServer` drives it.

``fault`` makes the server die (SIGKILL itself) at one exact moment of a sync:
``"upload"`` after the first bytes of a temporary file arrived, ``"rename"`` on
RNFR, before anything is renamed, and ``"renamed"`` after RNTO renamed the file
but before the reply. Real server, injected fault; start it again without one.

``chatty`` makes the server quote the password of the session in every 4xx and
5xx reply (as a server in a verbose or debug mode may), so that the tests can
see that no reply reaches a user with the password in it.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

#: Moments at which ``fault`` kills the server (see the module docstring).
FAULTS = ("upload", "rename", "renamed")


def _serve(argv: list[str]) -> None:
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.filesystems import AbstractedFS
    from pyftpdlib.handlers import DTPHandler, FTPHandler, TLS_FTPHandler
    from pyftpdlib.log import config_logging
    from pyftpdlib.servers import FTPServer as Server

    parser = argparse.ArgumentParser()
    parser.add_argument("--home", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--no-rename-over", action="store_true", help="refuse RNTO onto an existing file")
    parser.add_argument("--fault", choices=FAULTS, help="die at this moment of a sync")
    parser.add_argument("--chatty", action="store_true", help="quote the password in every 4xx and 5xx reply")
    args = parser.parse_args(argv)

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    class DyingDTPHandler(DTPHandler):  # type: ignore[misc]
        """Dies once part of a temporary file has arrived (and reached the disk)."""

        def handle_read(self) -> None:
            super().handle_read()
            file = self.file_obj
            if file is not None and file.name.endswith(".tmp") and self.tot_bytes_received > 0:
                file.flush()
                die()

        handle_read_event = handle_read

    def dying(base: type[FTPHandler]) -> type[FTPHandler]:
        """The handler class, with the fault's moment wired in."""
        namespace: dict[str, object] = {}
        if args.fault == "upload":
            namespace["dtp_handler"] = DyingDTPHandler
        elif args.fault == "rename":
            namespace["ftp_RNFR"] = lambda self, path: die()
        elif args.fault == "renamed":

            def ftp_RNTO(self: FTPHandler, path: str) -> None:
                self.run_as_current_user(self.fs.rename, self._rnfr, path)
                die()

            namespace["ftp_RNTO"] = ftp_RNTO
        if args.chatty:

            def ftp_PASS(self: FTPHandler, line: str) -> None:
                self.sb_password = line
                base.ftp_PASS(self, line)

            def respond(self: FTPHandler, resp: str, *more: object, **options: object) -> None:
                password = getattr(self, "sb_password", None)
                if password and resp[:1] in ("4", "5"):
                    resp = f"{resp} (the password was {password})"
                base.respond(self, resp, *more, **options)

            namespace["ftp_PASS"] = ftp_PASS
            namespace["respond"] = respond
        return type("Handler", (base,), namespace)

    config_logging(level=logging.WARNING)

    class NoRenameOverFS(AbstractedFS):  # type: ignore[misc]
        """Like servers that refuse to rename onto an existing file."""

        def rename(self, src: str, dst: str) -> None:
            if os.path.exists(dst):
                raise OSError(17, "File exists")
            super().rename(src, dst)

    authorizer = DummyAuthorizer()
    authorizer.add_user(args.user, args.password, args.home, perm="elradfmwMT")
    handler: type[FTPHandler]
    if args.cert:
        handler = type("Handler", (dying(TLS_FTPHandler),), {"certfile": args.cert, "keyfile": args.key})
        handler.tls_control_required = True
        handler.tls_data_required = True  # so every transfer that works went through PROT P
    else:
        handler = dying(FTPHandler)
    handler.authorizer = authorizer
    handler.auth_failed_timeout = 0.01  # pyftpdlib waits 3 s after a wrong password by default
    handler.passive_ports = None
    if args.no_rename_over:
        handler.abstracted_fs = NoRenameOverFS
    server = Server(("127.0.0.1", args.port), handler)
    print(f"PORT {server.address[1]}", flush=True)
    server.serve_forever(handle_exit=True)


class FTPServer:
    """Starts, stops and kills the server process; knows its URLs."""

    def __init__(
        self,
        home: Path,
        user: str,
        password: str,
        *,
        tls: tuple[Path, Path] | None = None,
        no_rename_over: bool = False,
        fault: str | None = None,
        chatty: bool = False,
    ) -> None:
        self.home = home
        self.user = user
        self.password = password
        self.tls = tls
        self.no_rename_over = no_rename_over
        #: Set before :meth:`start`: the moment the server dies at (None: never).
        self.fault = fault
        self.chatty = chatty
        self.port = 0
        self.process: subprocess.Popen[str] | None = None

    @property
    def scheme(self) -> str:
        return "ftps" if self.tls else "ftp"

    def url(self, path: str, *, password: str | None = None) -> str:
        """The URL of ``path`` (relative to the home folder), credentials percent-encoded."""
        secret = quote(self.password if password is None else password, safe="")
        return f"{self.scheme}://{quote(self.user, safe='')}:{secret}@127.0.0.1:{self.port}/{path}"

    def start(self) -> None:
        """Start the server (on the same port as before, if it ran already) and wait until it listens."""
        command = [sys.executable, __file__, "--home", str(self.home), "--user", self.user]
        command += ["--password", self.password, "--port", str(self.port)]
        if self.tls:
            command += ["--cert", str(self.tls[0]), "--key", str(self.tls[1])]
        if self.no_rename_over:
            command.append("--no-rename-over")
        if self.fault:
            command += ["--fault", self.fault]
        if self.chatty:
            command.append("--chatty")
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            self.process.kill()
            raise RuntimeError(f"the FTP server did not start: {line!r}")
        self.port = int(line.split()[1])

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

    def files(self) -> list[str]:
        """Every file under the home folder, relative paths, sorted."""
        return sorted(str(path.relative_to(self.home)) for path in self.home.rglob("*") if path.is_file())


def running(home: Path, user: str, password: str, **options: object) -> Iterator[FTPServer]:
    """Start a server (``options`` as :class:`FTPServer` takes them), yield it, kill it at the end."""
    server = FTPServer(home, user, password, **options)  # type: ignore[arg-type]
    server.start()
    try:
        yield server
    finally:
        server.kill()


if __name__ == "__main__":
    _serve(sys.argv[1:])
