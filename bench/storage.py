"""A private SeaweedFS S3 for the run: one bucket, the test photos uploaded."""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proxy.seaweed import S3Credentials, SeaweedS3

BUCKET = "bench"
REGION = "us-east-1"


@dataclass(frozen=True)
class Storage:
    endpoint_url: str
    bucket: str
    credentials: S3Credentials
    pid: int  #: the SeaweedFS process, for its CPU time

    def client(self) -> Any:
        import botocore.session
        from botocore.config import Config

        return botocore.session.get_session().create_client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=self.credentials.access_key,
            aws_secret_access_key=self.credentials.secret_key,
            config=Config(s3={"addressing_style": "path"}),
        )

    def upload(self, key: str, path: Path) -> None:
        self.client().put_object(
            Bucket=self.bucket, Key=key, Body=path.read_bytes(), ContentType="image/jpeg"
        )

    def aws_environment(self) -> dict[str, str]:
        """Credentials for a child through the standard AWS chain, and nothing else of AWS."""
        return {
            "AWS_ACCESS_KEY_ID": self.credentials.access_key,
            "AWS_SECRET_ACCESS_KEY": self.credentials.secret_key,
            "AWS_REGION": REGION,
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
        }


@contextmanager
def running_storage() -> Iterator[Storage]:
    """SeaweedFS on loopback in a scratch directory, with a fresh private bucket;
    stopped (by PID) and its data removed on the way out."""
    data_dir = Path(tempfile.mkdtemp(prefix="bench-seaweed-"))
    credentials = S3Credentials("bench-" + secrets.token_hex(4), secrets.token_urlsafe(24))
    server = SeaweedS3(data_dir, credentials)
    try:
        server.start()
        server.create_bucket(BUCKET)
        assert server.process is not None
        yield Storage(server.endpoint_url, BUCKET, credentials, server.process.pid)
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
