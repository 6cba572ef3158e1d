"""Child processes for the crash and fault tests, made with ``os.fork``.

A forked child starts at once with everything imported (a new interpreter would
take a good part of a second per kill), does its work, and leaves with
``os._exit``, so it never runs the test process's cleanup. Results come back
as text through a pipe; nothing is shared but the files on disk.
"""

from __future__ import annotations

import os
import select
import signal
import time
import traceback
from collections.abc import Callable

#: How long a child may take before it counts as hung (a hang is a finding: sqlitedict hangs forever
#: on a full disk). Generous, so a slow shared machine never fails a test that works.
HANG = 120.0


def _read_until_eof(fd: int, deadline: float) -> tuple[str, bool]:
    """Everything the child writes to ``fd`` until it closes it; False if the deadline came first."""
    chunks = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return b"".join(chunks).decode(errors="replace"), False
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                return b"".join(chunks).decode(errors="replace"), True
            chunks.append(chunk)


def run_in_child(work: Callable[[], object], timeout: float = HANG) -> None:
    """Run ``work`` in a forked child; re-raise its failure here as an AssertionError with its traceback.

    A child that does not finish within ``timeout`` seconds is killed, and that is a failure too.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        status = 0
        try:
            work()
            os.write(write_end, b"ok")
        except BaseException:
            os.write(write_end, traceback.format_exc().encode(errors="replace"))
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    try:
        output, finished = _read_until_eof(read_end, time.monotonic() + timeout)
    finally:
        os.close(read_end)
    if not finished:
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    if not finished:
        raise AssertionError(f"the child did not finish within {timeout:g} s: it hangs. Its output:\n{output}")
    if output != "ok":
        raise AssertionError(f"the child failed:\n{output}")


def run_together(works: list[Callable[[], object]], timeout: float = HANG) -> None:
    """Run each of ``works`` in its own forked child, all released at the same moment; like run_in_child."""
    go_read, go_write = os.pipe()
    children = []
    for work in works:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(read_end)
            os.close(go_write)
            status = 0
            try:
                os.read(go_read, 1)  # wait for the start
                work()
                os.write(write_end, b"ok")
            except BaseException:
                os.write(write_end, traceback.format_exc().encode(errors="replace"))
                status = 1
            finally:
                os._exit(status)
        os.close(write_end)
        children.append((pid, read_end))
    os.close(go_read)
    os.write(go_write, b"g" * len(works))  # every child reads one byte: go
    os.close(go_write)
    deadline = time.monotonic() + timeout
    failures = []
    for pid, read_end in children:
        output, finished = _read_until_eof(read_end, deadline)
        os.close(read_end)
        if not finished:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        if output != "ok":
            failures.append(output if finished else f"hangs (killed after {timeout:g} s): {output}")
    if failures:
        raise AssertionError("a child failed:\n" + "\n".join(failures))


class Reporter:
    """A forked child that reports progress lines through a pipe, and can be killed at any moment."""

    def __init__(self, work: Callable[[Callable[[str], None]], object]) -> None:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(read_end)

            def report(line: str) -> None:
                os.write(write_end, line.encode() + b"\n")

            status = 0
            try:
                work(report)
            except BaseException:
                os.write(write_end, b"error " + traceback.format_exc().replace("\n", " | ").encode() + b"\n")
                status = 1
            finally:
                os._exit(status)
        os.close(write_end)
        self.pid = pid
        self._fd = read_end
        self._buffer = b""
        self.lines: list[str] = []
        self.status: int | None = None

    def _take(self, timeout: float) -> bool:
        """Read what is there (waiting up to ``timeout`` for something); False at the end of the pipe."""
        ready, _, _ = select.select([self._fd], [], [], max(timeout, 0))
        if not ready:
            return True
        chunk = os.read(self._fd, 65536)
        if not chunk:
            return False
        self._buffer += chunk
        *complete, self._buffer = self._buffer.split(b"\n")
        self.lines.extend(line.decode() for line in complete)
        return True

    def wait_for_line(self, timeout: float = HANG) -> str:
        """The first line the child reports (its first sync); AssertionError if none comes."""
        deadline = time.monotonic() + timeout
        while not self.lines:
            if not self._take(deadline - time.monotonic()) or time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"the child reported nothing (exit status {self.status})")
        return self.lines[0]

    def kill(self) -> None:
        """SIGKILL the child, wait for it, and read every line it wrote before it died."""
        if self.status is None:
            os.kill(self.pid, signal.SIGKILL)
            _, status = os.waitpid(self.pid, 0)
            self.status = status
            deadline = time.monotonic() + 10  # the pipe ends at once: the child is gone
            while self._take(deadline - time.monotonic()) and time.monotonic() < deadline:
                pass
            os.close(self._fd)
