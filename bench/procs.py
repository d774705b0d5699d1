"""Every process the benchmark starts, and how each one is stopped (by PID).

Each child starts in its own session, so it is also the leader of its own
process group, whose id is its PID. Stopping one is polite first (SIGTERM to
the PID, so the proxy shuts its render workers down itself), then SIGKILL to
that group, which catches any grandchild left behind (render workers, the
forkserver, nginx workers). Nothing is ever stopped by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType

#: urllib without any proxy from the environment: every request here is to loopback.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Processes:
    """Starts children and guarantees they are stopped, even on Ctrl+C or errors."""

    def __init__(self) -> None:
        self._running: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Processes:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop_all()

    def start(
        self,
        argv: Sequence[str],
        *,
        log: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start `argv` with stdout and stderr going to `log`."""
        with log.open("ab") as out:
            process = subprocess.Popen(
                list(argv),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
            )
        self._running.append(process)
        return process

    def wait(self, process: subprocess.Popen[bytes], timeout: float) -> int:
        """Wait for a child that ends by itself (wrk, the render loops); stop it if late."""
        try:
            return process.wait(timeout=timeout)
        finally:
            self.stop(process)

    def stop(self, process: subprocess.Popen[bytes], grace: float = 15.0) -> None:
        if process in self._running:
            self._running.remove(process)
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=grace)
        # The group outlives its leader when grandchildren are left: end them too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)

    def stop_all(self) -> None:
        for process in reversed(list(self._running)):
            self.stop(process)


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so every `finally` and `with` cleans up."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str, timeout: float = 30.0) -> tuple[int, dict[str, str], bytes]:
    """A plain GET: status, headers, body (an HTTP error status is returned, not raised)."""
    try:
        with _OPENER.open(url, timeout=timeout) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


def wait_until_ok(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60.0
) -> None:
    """Poll `url` until it answers 200; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited early; see {log}:\n{tail(log)}")
        with contextlib.suppress(OSError):
            if http_get(url, timeout=2)[0] == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f}s; see {log}")


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
