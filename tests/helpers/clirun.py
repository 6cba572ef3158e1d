"""Running the real ``storagebackend`` command in a subprocess, for the CLI tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

#: The console script pip installed beside this interpreter.
SCRIPT = Path(sys.executable).with_name("storagebackend")


def run(
    *args: str,
    cwd: Path,
    stdin: bytes | None = None,
    stdin_from: int | None = None,
    script: bool = False,
    env: dict[str, str] | None = None,
    **popen: Any,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m storagebackend ARGS`` (or the installed script) and capture its output.

    ``stdin`` is piped in; ``stdin_from`` is a file descriptor (a terminal, say);
    without either the command reads an empty stdin, never the test runner's.
    """
    command = [str(SCRIPT)] if script else [sys.executable, "-m", "storagebackend"]
    options: dict[str, Any] = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **popen}
    if stdin is not None:
        options["input"] = stdin
    else:
        options["stdin"] = subprocess.DEVNULL if stdin_from is None else stdin_from
    return subprocess.run(
        [*command, *args], cwd=cwd, env={**os.environ, **(env or {})}, timeout=120, check=False, **options
    )


def error_line(result: subprocess.CompletedProcess[bytes]) -> str:
    """The one line a failed command printed on stderr (and nothing on stdout, no traceback)."""
    assert result.stdout == b"", result.stdout
    text = result.stderr.decode()
    assert "Traceback" not in text, text
    lines = text.splitlines()
    assert len(lines) == 1, text
    assert lines[0].startswith("storagebackend: error: "), text
    return lines[0]
