"""What wrk is pointed at: the proxy, and the nginx and thumbor references.

Each is a context manager that starts the server on a free loopback port,
waits until it answers, yields a `Target`, and stops it by PID on the way out.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .procs import Processes, free_port, wait_until_ok
from .storage import REGION, Storage

ROOT = Path(__file__).resolve().parent.parent
THUMBOR_VENV = Path(__file__).resolve().parent / ".thumbor-venv"
THUMBOR_PACKAGES = ("thumbor==7.8.0", "thumbor-aws")


@dataclass(frozen=True)
class Target:
    name: str
    base_url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid


@dataclass(frozen=True)
class ProxySettings:
    result_prefix: str
    memory_cache_mb: int = 256
    render_workers: int = 2
    log_level: str = "WARNING"


def child_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """Our environment without anything that could reconfigure a child behind our back
    (the operator's PROXY_* and AWS_* settings, a PYTHONPATH), plus `extra`."""
    dropped = ("PROXY_", "AWS_", "PYTHONPATH", "PYTHONHOME")
    env = {name: value for name, value in os.environ.items() if not name.startswith(dropped)}
    env.update(extra)
    return env


@contextmanager
def proxy(
    procs: Processes, storage: Storage, settings: ProxySettings, *, log: Path
) -> Iterator[Target]:
    """`python -m proxy serve`, configured only through its environment."""
    port = free_port()
    env = child_environment(
        {
            **storage.aws_environment(),
            "PROXY_S3_BUCKET": storage.bucket,
            "PROXY_S3_ENDPOINT_URL": storage.endpoint_url,
            "PROXY_HOST": "127.0.0.1",
            "PROXY_PORT": str(port),
            "PROXY_RENDER_WORKERS": str(settings.render_workers),
            "PROXY_MEMORY_CACHE_MB": str(settings.memory_cache_mb),
            "PROXY_RESULT_PREFIX": settings.result_prefix,
            "PROXY_LOG_LEVEL": settings.log_level,
            "PROXY_SHUTDOWN_TIMEOUT": "5",
        }
    )
    process = procs.start([sys.executable, "-m", "proxy", "serve"], env=env, log=log, cwd=ROOT)
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_until_ok(f"{base_url}/readyz", process, log)
        yield Target("proxy", base_url, process, log)
    finally:
        procs.stop(process)


@contextmanager
def nginx(procs: Processes, files: Mapping[str, bytes], *, workdir: Path) -> Iterator[Target]:
    """Debian's nginx serving `files` statically: 2 workers, sendfile on, access_log off.

    The files live in a world-readable scratch directory, since nginx's workers
    drop root for `nobody`."""
    www = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
    www.chmod(0o755)
    for name, body in files.items():
        (www / name).write_bytes(body)
        (www / name).chmod(0o644)
    port = free_port()
    prefix = workdir / "nginx"
    prefix.mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(_nginx_conf(prefix, www, port))
    log = prefix / "error.log"
    argv = ["nginx", "-p", str(prefix), "-c", str(conf), "-e", str(log)]
    process = procs.start(argv, env=child_environment({}), log=prefix / "stdout.log")
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_until_ok(f"{base_url}/{next(iter(files))}", process, log)
        yield Target("nginx", base_url, process, log)
    finally:
        procs.stop(process)
        shutil.rmtree(www, ignore_errors=True)


def _nginx_conf(prefix: Path, www: Path, port: int) -> str:
    temp = {name: prefix / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    temp_paths = "\n".join(f"    {name}_temp_path {path};" for name, path in temp.items())
    return f"""\
worker_processes 2;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{
    worker_connections 1024;
}}
http {{
    sendfile on;
    tcp_nopush on;
    access_log off;
    types {{
        image/jpeg jpg;
    }}
{temp_paths}
    server {{
        listen 127.0.0.1:{port};
        root {www};
    }}
}}
"""


def thumbor_available() -> bool:
    return (THUMBOR_VENV / "bin" / "thumbor").exists()


def setup_thumbor() -> None:
    """Create thumbor's own virtualenv. Never ours: thumbor depends on plain
    `pillow`, which would replace Pillow-SIMD in .venv."""
    if THUMBOR_VENV.resolve() == (ROOT / ".venv").resolve():
        raise RuntimeError("refusing to install thumbor into the project's .venv")
    if thumbor_available():
        return
    print(f"setting up thumbor in {THUMBOR_VENV} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(THUMBOR_VENV)], check=True)
    pip = THUMBOR_VENV / "bin" / "pip"
    subprocess.run([str(pip), "install", "--quiet", *THUMBOR_PACKAGES], check=True)


@contextmanager
def thumbor(procs: Processes, storage: Storage, *, workdir: Path) -> Iterator[Target]:
    """thumbor 7.8 + thumbor-aws reading the same bucket (REFERENCES.md's settings)."""
    port = free_port()
    conf = workdir / "thumbor.conf"
    conf.write_text(_thumbor_conf(storage))
    log = workdir / "thumbor.log"
    argv = [
        str(THUMBOR_VENV / "bin" / "thumbor"),
        f"--port={port}",
        "--ip=127.0.0.1",
        f"--conf={conf}",
        "--log-level=warning",
    ]
    process = procs.start(argv, env=child_environment({}), log=log, cwd=workdir)
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_until_ok(f"{base_url}/healthcheck", process, log)
        yield Target("thumbor", base_url, process, log)
    finally:
        procs.stop(process)


def _thumbor_conf(storage: Storage) -> str:
    settings: dict[str, object] = {
        "LOADER": "thumbor_aws.loader",
        "ALLOW_UNSAFE_URL": True,
        "RESULT_STORAGE": None,
        "STORAGE": "thumbor.storages.no_storage",
        "QUALITY": 85,
        # The default, 0, renders on the event loop: half the speed on 2 cores.
        "ENGINE_THREADPOOL_SIZE": 2,
    }
    # thumbor-aws 1.1 reads its storage settings even when used only as the loader.
    for group in ("LOADER", "STORAGE"):
        settings.update(
            {
                f"AWS_{group}_REGION_NAME": REGION,
                f"AWS_{group}_BUCKET_NAME": storage.bucket,
                f"AWS_{group}_ROOT_PATH": "",
                f"AWS_{group}_S3_ENDPOINT_URL": storage.endpoint_url,
                f"AWS_{group}_S3_ACCESS_KEY_ID": storage.credentials.access_key,
                f"AWS_{group}_S3_SECRET_ACCESS_KEY": storage.credentials.secret_key,
            }
        )
    return "".join(f"{name} = {value!r}\n" for name, value in settings.items())
