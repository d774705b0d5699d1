"""The fixed command-line interface: `python -m proxy serve` and `resize-proxy`."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from proxy.seaweed import SeaweedS3


def run_proxy(
    args: list[str], env: dict[str, str], timeout: float = 20
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proxy", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_every_bad_variable_is_reported_at_once_without_a_traceback() -> None:
    env = {
        "PATH": os.environ["PATH"],
        "PROXY_PORT": "eighty",
        "PROXY_MAX_DIMENSION": "0",
        "PROXY_COLOUR": "blue",
    }

    result = run_proxy(["serve"], env)

    assert result.returncode == 2
    for name in ("PROXY_S3_BUCKET", "PROXY_PORT", "PROXY_MAX_DIMENSION", "PROXY_COLOUR"):
        assert name in result.stderr
    assert "Traceback" not in result.stderr


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "resize-proxy"
    assert script.exists() or shutil.which("resize-proxy")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_starts_and_answers_health_checks(s3_server: SeaweedS3, bucket: str) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PROXY_S3_BUCKET": bucket,
        "PROXY_S3_ENDPOINT_URL": s3_server.endpoint_url,
        "PROXY_HOST": "127.0.0.1",
        "PROXY_PORT": str(port),
        "PROXY_RENDER_WORKERS": "1",
        "PROXY_READY_INTERVAL": "0.2",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "proxy", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        ready = None
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                    ready = r.status
                    break
            except OSError:
                time.sleep(0.1)
        assert ready == 200
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0
    assert "Pillow-SIMD: yes" in output
