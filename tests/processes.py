"""Real processes for deployment tests: proxy replicas (`python -m proxy serve`)
and Debian's nginx, each in its own session, stopped by PID."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NGINX = "/usr/sbin/nginx"
REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(process: subprocess.Popen[bytes] | None, timeout: float = 15.0) -> None:
    """SIGTERM to the PID, then SIGKILL to its process group if it does not exit.

    Each process is started with `start_new_session`, so its group id is its
    PID and the group holds only what it started (render workers, nginx workers).
    """
    if process is None:
        return
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    # Leftover children (a render worker, an nginx worker) die with the group.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def _wait_for(check: Any, process: subprocess.Popen[bytes], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode}")
        if check():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start within {timeout} s")


@dataclass
class Replica:
    """One `python -m proxy serve`; its stdout and stderr go to `log_path`."""

    name: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def launch(self, environ: Mapping[str, str]) -> None:
        env = {name: value for name, value in os.environ.items() if not name.startswith("PROXY_")}
        env.update(environ)
        env.update({"PROXY_HOST": "127.0.0.1", "PROXY_PORT": str(self.port)})
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "proxy", "serve"],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Until `/readyz` says 200 (its S3 canary succeeded)."""
        assert self.process is not None
        try:
            _wait_for(self._ready, self.process, f"replica {self.name}", timeout)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; log:\n{self.log_path.read_text()[-3000:]}") from None

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.address}/readyz", timeout=1) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.HTTPError):
            return False

    def stop(self) -> None:
        stop(self.process)

    def access_log(self) -> list[dict[str, Any]]:
        """The JSON access-log lines so far (each may carry a logging prefix)."""
        lines = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            start = line.find("{")
            if start < 0:
                continue
            try:
                entry = json.loads(line[start:])
            except ValueError:
                continue
            if isinstance(entry, dict) and "request_id" in entry and "path" in entry:
                lines.append(entry)
        return lines

    def request_ids(self) -> set[str]:
        return {str(entry["request_id"]) for entry in self.access_log()}


@dataclass
class Nginx:
    """Debian's nginx as a foreground master under a private prefix."""

    prefix: Path
    port: int
    site_conf: Path
    process: subprocess.Popen[bytes] | None = None
    command: list[str] = field(default_factory=list)

    @property
    def error_log(self) -> Path:
        return self.prefix / "error.log"

    def write_main_conf(self) -> Path:
        """A minimal nginx.conf around the rendered site file (the test's, not
        the repository's): temp paths under the prefix, workers as root because
        the tests run as root and their temp directories are private."""
        for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.prefix / "temp" / name).mkdir(parents=True, exist_ok=True)
        main = self.prefix / "nginx.conf"
        main.write_text(
            "user root;\n"
            "worker_processes 1;\n"
            "events { worker_connections 256; }\n"
            "http {\n"
            "    default_type application/octet-stream;\n"
            f"    client_body_temp_path {self.prefix}/temp/body;\n"
            f"    proxy_temp_path {self.prefix}/temp/proxy;\n"
            f"    fastcgi_temp_path {self.prefix}/temp/fastcgi;\n"
            f"    uwsgi_temp_path {self.prefix}/temp/uwsgi;\n"
            f"    scgi_temp_path {self.prefix}/temp/scgi;\n"
            f"    include {self.site_conf};\n"
            "}\n"
        )
        return main

    def start(self, timeout: float = 10.0) -> None:
        main = self.write_main_conf()
        directives = f"daemon off; pid {self.prefix}/nginx.pid; error_log {self.error_log} info;"
        self.command = [NGINX, "-p", f"{self.prefix}/", "-c", str(main), "-g", directives]
        checked = subprocess.run([*self.command, "-t"], capture_output=True, check=False)
        if checked.returncode != 0:
            raise RuntimeError(f"nginx -t failed:\n{checked.stderr.decode()}")
        with (self.prefix / "stderr.log").open("ab") as stderr:
            self.process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        try:
            _wait_for(self._listening, self.process, "nginx", timeout)
        except RuntimeError as exc:
            log = self.error_log.read_text() if self.error_log.exists() else ""
            raise RuntimeError(f"{exc}; error log:\n{log[-3000:]}") from None

    def _listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        stop(self.process)


def render_site(template_env: Mapping[str, str]) -> str:
    """The repository's template rendered by nginx/render.sh (envsubst), as an
    operator would."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("NGINX_")}
    env.update(template_env)
    done = subprocess.run(
        ["sh", str(REPO / "nginx" / "render.sh")],
        env=env,
        capture_output=True,
        check=True,
    )
    return done.stdout.decode()
