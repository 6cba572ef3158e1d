"""A pyftpdlib server on 127.0.0.1 for the FTP rows: run as a child process, prints its port.

python benchmarks/ftpserver.py HOME   # serves HOME to user "bench", password "bench"
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

USER = PASSWORD = "bench"


def serve(home: str) -> None:
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.log import config_logging
    from pyftpdlib.servers import FTPServer

    config_logging(level=logging.WARNING)
    authorizer = DummyAuthorizer()
    authorizer.add_user(USER, PASSWORD, home, perm="elradfmwMT")
    handler = type("Handler", (FTPHandler,), {"authorizer": authorizer})
    server = FTPServer(("127.0.0.1", 0), handler)
    print(server.address[1], flush=True)
    server.serve_forever(handle_exit=True)


def start(home: Path) -> tuple[subprocess.Popen[str], int]:
    """Start a server for ``home``; the process and its port."""
    process = subprocess.Popen(
        [sys.executable, __file__, str(home)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.strip().isdigit():
        process.kill()
        raise RuntimeError(f"the FTP server did not start: {line!r}")
    return process, int(line)


if __name__ == "__main__":
    serve(sys.argv[1])
