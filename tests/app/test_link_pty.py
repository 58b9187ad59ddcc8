"""The app in a real pseudo-terminal that answers like a terminal does, slowly (tuinet/app/link.py).

The app writes a cursor position query after every frame and takes the answers itself. Here the
terminal answers each query QUERY_DELAY s after reading it (a round trip over SSH): the app
must keep running on the answers, and when it quits it must wait for the answers still on
their way; an answer that came after it stopped reading would land in the user's shell as
text (`^[[1;1R`).
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time

import pytest

QUERY = b"\x1b[6n"
QUERY_DELAY = 0.15

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="a Linux pseudo-terminal")


def run_app(argv: list[str], keys: list[tuple[bytes, bytes]], timeout: float = 60.0):
    """Run `argv` on a pty of 100x30 that answers queries after QUERY_DELAY s; for each
    (wait_for, key) of `keys`, send `key` once `wait_for` has been written. Returns (output,
    queries read, answers sent, exit time, answers still due at the exit)."""
    pid, fd = pty.fork()
    if pid == 0:
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
            env = {k: v for k, v in os.environ.items() if not k.startswith(("TEXTUAL", "SSH_"))}
            env.update(TERM="xterm-256color", COLORTERM="truecolor", TUINET_LINK_LOG="")
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    out, due, queries, answers = bytearray(), [], 0, 0
    tail = b""
    deadline = time.monotonic() + timeout
    keys = list(keys)
    exited = None
    try:
        while time.monotonic() < deadline:
            now = time.monotonic()
            while due and due[0] <= now:
                due.pop(0)
                os.write(fd, b"\x1b[1;1R")
                answers += 1
            wait = max(0.0, min([0.02] + [d - now for d in due]))
            ready, _, _ = select.select([fd], [], [], wait)
            if ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    data = b""
                if not data:
                    break
                out += data
                seen = tail + data
                n = seen.count(QUERY)
                tail = seen[-3:]
                queries += n
                due += [time.monotonic() + QUERY_DELAY] * n
                if keys and keys[0][0] in out:
                    os.write(fd, keys.pop(0)[1])
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                exited = time.monotonic()
                break
        else:
            raise AssertionError(f"the app did not finish in {timeout} s; it wrote:\n{out[-2000:]!r}")
        if exited is None:
            os.waitpid(pid, 0)
            exited = time.monotonic()
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        os.close(fd)
    return bytes(out), queries, answers, exited, due


def tuinet_argv() -> list[str]:
    exe = os.path.join(os.path.dirname(sys.executable), "tuinet")
    return [exe] if os.path.exists(exe) else [sys.executable, "-c", "from tuinet.cli import main; main()"]


def test_the_app_takes_the_terminals_answers_and_waits_for_them_when_it_quits():
    out, queries, answers, exited, left = run_app(
        tuinet_argv() + ["xor", "--epochs", "3"], [(b"ready", b" "), (b"finished", b"q")])
    assert b"finished" in out  # it trained on, with answers coming late
    assert queries > 3  # a query after each frame
    # every query the app wrote was answered before it exited: none left to reach the shell
    assert left == [] and answers == queries
    assert b"\x1b[?1049l" in out  # it left the terminal as it found it
