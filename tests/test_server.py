"""The server as operators run it: native TLS, SIGHUP certificate reload, graceful drain."""

from __future__ import annotations

import http.client
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from proxy.seaweed import SeaweedS3
from tests.conftest import put
from tests.images import photo
from tests.processes import free_port, stop
from tests.relay import Relay


def start_proxy(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("PROXY_")}
    full.update({"PROXY_HOST": "127.0.0.1", "PROXY_RENDER_WORKERS": "1", **env})
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "proxy", "serve"],
            env=full,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def start_ready_proxy(
    tmp_path: Path, bucket: str, endpoint: str, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], str]:
    """A plain-HTTP `python -m proxy serve`, returned once `/readyz` says 200."""
    port = free_port()
    process = start_proxy(
        {
            "PROXY_S3_BUCKET": bucket,
            "PROXY_S3_ENDPOINT_URL": endpoint,
            "PROXY_PORT": str(port),
            "PROXY_READY_INTERVAL": "0.2",
            **env,
        },
        tmp_path / "proxy.log",
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: urllib.request.urlopen(f"{base}/readyz", timeout=1).status == 200)
    except BaseException:
        stop(process)
        raise
    return process, base


def wait_until(check: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def write_cert(ca: trustme.CA, directory: Path) -> tuple[Path, Path]:
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert.private_key_pem.write_to_path(str(key_path))
    cert_path.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    return cert_path, key_path


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture
def tls_proxy(
    tmp_path: Path, s3_server: SeaweedS3, bucket: str
) -> Iterator[tuple[int, trustme.CA, Path, subprocess.Popen[bytes]]]:
    ca = trustme.CA()
    cert, key = write_cert(ca, tmp_path)
    port = free_port()
    process = start_proxy(
        {
            "PROXY_S3_BUCKET": bucket,
            "PROXY_S3_ENDPOINT_URL": s3_server.endpoint_url,
            "PROXY_PORT": str(port),
            "PROXY_TLS_CERT": str(cert),
            "PROXY_TLS_KEY": str(key),
        },
        tmp_path / "proxy.log",
    )
    context = client_context(ca)
    wait_until(
        lambda: (
            urllib.request.urlopen(
                f"https://127.0.0.1:{port}/healthz", context=context, timeout=1
            ).status
            == 200
        )
    )
    yield port, ca, tmp_path, process
    stop(process)


def test_tls_port_serves_https_with_tls_1_2_or_newer(tls_proxy: Any) -> None:
    port, ca, _, _ = tls_proxy
    context = client_context(ca)

    with urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", context=context) as response:
        assert response.status == 200

    old = client_context(ca)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.1 is deprecated: the point
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("ALL:@SECLEVEL=0")
    with pytest.raises(urllib.error.URLError) as refused:
        urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", context=old, timeout=5)
    assert isinstance(refused.value.reason, ssl.SSLError)


def test_plain_http_is_not_served_on_the_tls_port(tls_proxy: Any) -> None:
    port, _, _, _ = tls_proxy

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    with pytest.raises((http.client.HTTPException, OSError)):
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        assert response.status != 200  # pragma: no cover - must not get here
        raise http.client.HTTPException("answered plain HTTP")  # pragma: no cover


def test_sighup_reloads_the_certificate_without_dropping_connections(tls_proxy: Any) -> None:
    port, old_ca, directory, process = tls_proxy
    kept = http.client.HTTPSConnection("127.0.0.1", port, context=client_context(old_ca), timeout=5)
    kept.request("GET", "/healthz")
    assert kept.getresponse().read()

    new_ca = trustme.CA()
    write_cert(new_ca, directory)
    process.send_signal(signal.SIGHUP)

    def new_cert_served() -> bool:
        with urllib.request.urlopen(
            f"https://127.0.0.1:{port}/healthz", context=client_context(new_ca), timeout=2
        ) as response:
            return bool(response.status == 200)

    wait_until(new_cert_served, 10)
    kept.request("GET", "/healthz")  # the connection opened before the reload still works
    assert kept.getresponse().status == 200
    with pytest.raises(urllib.error.URLError) as refused:
        urllib.request.urlopen(
            f"https://127.0.0.1:{port}/healthz", context=client_context(old_ca), timeout=5
        )
    assert isinstance(refused.value.reason, ssl.SSLCertVerificationError)


def test_sigterm_drains_in_flight_requests_while_readyz_says_503(
    tmp_path: Path, s3_server: SeaweedS3, s3: Any, bucket: str
) -> None:
    original = photo(800, 600)
    put(s3, bucket, "slow.jpg", original)
    slow_s3 = Relay(int(s3_server.endpoint_url.rsplit(":", 1)[1])).start()
    process, base = start_ready_proxy(
        tmp_path, bucket, slow_s3.url, {"PROXY_S3_READ_TIMEOUT": "30"}
    )
    try:
        slow_s3.delay = 2.0  # the original now takes seconds to arrive
        result: dict[str, Any] = {}

        def fetch() -> None:
            with urllib.request.urlopen(f"{base}/slow.jpg", timeout=30) as response:
                result["status"], result["body"] = response.status, response.read()

        in_flight = threading.Thread(target=fetch)
        in_flight.start()
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.3)

        with pytest.raises(urllib.error.HTTPError) as readyz:
            urllib.request.urlopen(f"{base}/readyz", timeout=5)
        assert readyz.value.code == 503
        in_flight.join(30)
        assert result["status"] == 200
        assert result["body"] == original
        assert process.wait(timeout=30) == 0
    finally:
        stop(process)
        slow_s3.stop()


def test_drain_delay_keeps_serving_while_readyz_says_503(
    tmp_path: Path, s3_server: SeaweedS3, bucket: str
) -> None:
    process, base = start_ready_proxy(
        tmp_path, bucket, s3_server.endpoint_url, {"PROXY_DRAIN_DELAY": "2"}
    )
    try:
        process.send_signal(signal.SIGTERM)
        time.sleep(0.5)

        with pytest.raises(urllib.error.HTTPError) as readyz:
            urllib.request.urlopen(f"{base}/readyz", timeout=5)
        assert readyz.value.code == 503
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as live:
            assert live.status == 200  # a new request during the delay is still served
        assert process.wait(timeout=30) == 0
    finally:
        stop(process)
