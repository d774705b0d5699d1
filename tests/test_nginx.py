"""nginx/resize-proxy.conf.template for real: Debian's nginx terminating TLS
(certificates from trustme) in front of two `python -m proxy serve` replicas
that read one private SeaweedFS bucket.

Which replica served a request is read from the replicas' own JSON access logs:
every request carries a unique X-Request-ID, which nginx passes on.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import signal
import socket
import ssl
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme

from proxy.seaweed import SeaweedS3

from .conftest import put
from .images import decode, photo, solid
from .processes import Nginx, Replica, free_port, render_site

ORIGINALS = [f"photos/p{number:02d}.jpg" for number in range(16)]
MAX_BODY = 40 * 1024 * 1024  # PROXY_MAX_SOURCE_BYTES' default, and the template's default


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    request_id: str


@dataclass
class Fleet:
    tmp: Path
    ca: trustme.CA
    replicas: list[Replica]
    nginx: Nginx

    def context(self, **versions: ssl.TLSVersion) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        for name, version in versions.items():
            setattr(context, name, version)
        return context

    def request(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        context: ssl.SSLContext | None = None,
    ) -> Answer:
        request_id = "t-" + uuid.uuid4().hex
        connection = http.client.HTTPSConnection(
            "localhost", self.nginx.port, context=context or self.context(), timeout=30
        )
        try:
            connection.request(
                method, target, body=body, headers={"X-Request-ID": request_id, **(headers or {})}
            )
            response = connection.getresponse()
            return Answer(
                response.status,
                {name.lower(): value for name, value in response.getheaders()},
                response.read(),
                request_id,
            )
        finally:
            connection.close()

    def get(self, target: str, **headers: str) -> Answer:
        return self.request("GET", target, headers=headers)

    def served_by(self, request_id: str, wait: float = 3.0) -> str | None:
        """The replica whose access log has `request_id` (None: no replica saw it)."""
        deadline = time.monotonic() + wait
        while True:
            seen = [r.name for r in self.replicas if request_id in r.request_ids()]
            assert len(seen) <= 1, f"{request_id} served twice: {seen}"
            if seen or time.monotonic() > deadline:
                return seen[0] if seen else None
            time.sleep(0.05)


def _site_env(tmp: Path, certs: Path, port: int, upstreams: Path, cache: str) -> dict[str, str]:
    return {
        "NGINX_SERVER_NAME": "localhost",
        "NGINX_LISTEN": f"127.0.0.1:{port}",
        "NGINX_TLS_CERT": str(certs / "server-chain.pem"),
        "NGINX_TLS_KEY": str(certs / "server-key.pem"),
        "NGINX_UPSTREAMS_FILE": str(upstreams),
        "NGINX_PROXY_CACHE": cache,
        "NGINX_CACHE_DIR": str(tmp / "cache"),
        "NGINX_CACHE_MAX_SIZE": "64m",
        "NGINX_ACCESS_LOG": str(tmp / "access.log"),
    }


def start_nginx(tmp: Path, certs: Path, addresses: list[str], cache: str = "off") -> Nginx:
    """The repository's template, rendered by nginx/render.sh, over `addresses`."""
    tmp.mkdir(parents=True, exist_ok=True)
    upstreams = tmp / "upstreams.conf"
    upstreams.write_text(
        "".join(f"server {address} max_fails=1 fail_timeout=10s;\n" for address in addresses)
    )
    port = free_port()
    site = tmp / "resize-proxy.conf"
    site.write_text(render_site(_site_env(tmp, certs, port, upstreams, cache)))
    assert not re.search(r"\$\{NGINX_[A-Z_]+\}", site.read_text())
    nginx = Nginx(tmp, port, site)
    nginx.start()
    return nginx


@contextlib.contextmanager
def running_fleet(tmp: Path, s3_server: SeaweedS3, bucket: str) -> Iterator[Fleet]:
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "server-chain.pem").write_bytes(b"".join(p.bytes() for p in server_cert.cert_chain_pems))
    server_cert.private_key_pem.write_to_path(str(tmp / "server-key.pem"))
    replicas = [Replica(name, free_port(), tmp / f"replica-{name}.log") for name in "AB"]
    nginx: Nginx | None = None
    environ = {
        "PROXY_S3_BUCKET": bucket,
        "PROXY_S3_ENDPOINT_URL": s3_server.endpoint_url,
        "PROXY_RENDER_WORKERS": "1",
        "PROXY_REVALIDATE_SECONDS": "0",
        "PROXY_READY_INTERVAL": "0.2",
        "PROXY_SHUTDOWN_TIMEOUT": "5",
        "PROXY_LOG_LEVEL": "INFO",
    }
    try:
        for replica in replicas:  # both start at once; then wait for both
            replica.launch(environ)
        for replica in replicas:
            replica.wait_ready()
        nginx = start_nginx(tmp / "nginx", tmp, [r.address for r in replicas])
        yield Fleet(tmp, ca, replicas, nginx)
    finally:
        if nginx is not None:
            nginx.stop()
        for replica in replicas:
            replica.stop()


def _bucket_with_originals(s3_server: SeaweedS3, s3: Any) -> str:
    bucket = "nginx-" + uuid.uuid4().hex[:16]
    s3_server.create_bucket(bucket)
    for key in ORIGINALS:
        put(s3, bucket, key, photo(120, 80))
    return bucket


@pytest.fixture(scope="module")
def fleet(
    tmp_path_factory: pytest.TempPathFactory, s3_server: SeaweedS3, s3: Any
) -> Iterator[Fleet]:
    bucket = _bucket_with_originals(s3_server, s3)
    with running_fleet(tmp_path_factory.mktemp("fleet"), s3_server, bucket) as running:
        yield running


# --- (a) TLS ------------------------------------------------------------------


def test_https_is_verified_against_the_ca_and_plain_http_is_refused(fleet: Fleet) -> None:
    answer = fleet.get("/photos/p00.jpg?w=40")
    assert answer.status == 200
    assert answer.headers["content-type"] == "image/jpeg"
    assert decode(answer.body).width == 40
    assert answer.headers["x-request-id"] == answer.request_id
    assert "max-age=63072000" in answer.headers["strict-transport-security"]
    assert fleet.served_by(answer.request_id) is not None

    # Without the test CA the certificate is not trusted.
    with pytest.raises(ssl.SSLCertVerificationError):
        fleet.request("GET", "/photos/p00.jpg?w=40", context=ssl.create_default_context())

    # Plain HTTP to the TLS port: nginx's own 400, never a replica.
    connection = http.client.HTTPConnection("127.0.0.1", fleet.nginx.port, timeout=10)
    request_id = "plain-" + uuid.uuid4().hex
    try:
        connection.request("GET", "/photos/p00.jpg?w=40", headers={"X-Request-ID": request_id})
        response = connection.getresponse()
        assert response.status == 400
        assert b"plain HTTP request was sent to HTTPS port" in response.read()
    finally:
        connection.close()
    assert fleet.served_by(request_id, wait=0.5) is None


def _handshake(fleet: Fleet, context: ssl.SSLContext) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", fleet.nginx.port), timeout=10)
    return context.wrap_socket(raw, server_hostname="localhost")


def test_tls_versions_ciphers_and_http2(fleet: Fleet) -> None:
    with _handshake(fleet, fleet.context()) as tls:
        assert tls.version() == "TLSv1.3"
    with _handshake(fleet, fleet.context(maximum_version=ssl.TLSVersion.TLSv1_2)) as tls:
        assert tls.version() == "TLSv1.2"
        cipher = tls.cipher()
        assert cipher is not None
        assert cipher[0].startswith("ECDHE-") and ("GCM" in cipher[0] or "CHACHA" in cipher[0])
    # TLS 1.1 is refused by the server (its alert), though the client allows it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSVersion.TLSv1_1 itself
        old = fleet.context(minimum_version=ssl.TLSVersion.TLSv1_1)
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("ALL:@SECLEVEL=0")
    with pytest.raises(ssl.SSLError, match="ALERT_PROTOCOL_VERSION"), _handshake(fleet, old):
        pass
    # A TLS 1.2 suite without forward secrecy is refused too.
    weak = fleet.context(maximum_version=ssl.TLSVersion.TLSv1_2)
    weak.set_ciphers("AES128-GCM-SHA256")
    with pytest.raises(ssl.SSLError, match="ALERT_HANDSHAKE_FAILURE"), _handshake(fleet, weak):
        pass
    # HTTP/2 is offered through ALPN.
    h2 = fleet.context()
    h2.set_alpn_protocols(["h2", "http/1.1"])
    with _handshake(fleet, h2) as tls:
        assert tls.selected_alpn_protocol() == "h2"


def test_metrics_are_not_exposed(fleet: Fleet) -> None:
    replica = fleet.replicas[0]
    with contextlib.closing(
        http.client.HTTPConnection("127.0.0.1", replica.port, timeout=10)
    ) as direct:
        direct.request("GET", "/metrics")
        assert direct.getresponse().status == 200  # there is something to hide
    for target in ("/metrics", "//metrics", "/%6Detrics", "/metrics?x=1"):
        answer = fleet.get(target)
        assert answer.status == 404, target
        assert fleet.served_by(answer.request_id, wait=0.3) is None, target


class _Recorder(ThreadingHTTPServer):
    """A stand-in upstream that records (client port, headers) of what nginx sends."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Record)
        self.seen: list[tuple[int, dict[str, str]]] = []


class _Record(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keepalive, like the proxy
    server: _Recorder

    def do_GET(self) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.seen.append((self.client_address[1], headers))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_forwarded_headers_request_ids_and_upstream_keepalive(fleet: Fleet) -> None:
    recorder = _Recorder()
    thread = threading.Thread(target=recorder.serve_forever, daemon=True)
    thread.start()
    nginx: Nginx | None = None
    try:
        address = f"127.0.0.1:{recorder.server_address[1]}"
        nginx = start_nginx(fleet.tmp / "nginx-recorder", fleet.tmp, [address])
        via = Fleet(fleet.tmp, fleet.ca, [], nginx)
        for given in (None, "abc-123.x:y", "not valid!"):
            connection = http.client.HTTPSConnection(
                "localhost", nginx.port, context=via.context(), timeout=10
            )
            headers = {"X-Forwarded-For": "203.0.113.7"}
            if given is not None:
                headers["X-Request-ID"] = given
            with contextlib.closing(connection):
                connection.request("GET", "/a/b.jpg?w=10", headers=headers)
                assert connection.getresponse().read() == b"ok"
    finally:
        if nginx is not None:
            nginx.stop()
        recorder.shutdown()
        recorder.server_close()
        thread.join(5)

    answers = [headers for _, headers in recorder.seen]
    assert len(answers) == 3
    for headers in answers:
        assert headers["host"] == "localhost"
        assert headers["x-forwarded-proto"] == "https"
        assert headers["x-forwarded-host"] == "localhost"
        assert headers["x-forwarded-for"] == "203.0.113.7, 127.0.0.1"
        assert headers.get("connection", "").lower() != "close"
    # A missing or unacceptable id is replaced by nginx's $request_id; a valid one passes.
    ids = [headers["x-request-id"] for headers in answers]
    assert re.fullmatch(r"[0-9a-f]{32}", ids[0])
    assert ids[1] == "abc-123.x:y"
    assert re.fullmatch(r"[0-9a-f]{32}", ids[2])
    logged = [json.loads(line) for line in (nginx.prefix / "access.log").read_text().splitlines()]
    assert [entry["request_id"] for entry in logged] == ids
    assert {entry["upstream"] for entry in logged} == {address}
    # Three client connections, one kept-alive connection to the upstream.
    assert len({port for port, _ in recorder.seen}) == 1


# --- (b) one original, one replica ----------------------------------------------


def test_each_url_always_reaches_the_same_replica(fleet: Fleet) -> None:
    owners: dict[str, str] = {}
    for key in ORIGINALS:
        seen = []
        for attempt in range(3):
            answer = fleet.get(f"/{key}?w=48")
            assert answer.status == 200
            # The replica's in-memory cache answers the repeats: same replica.
            assert answer.headers["x-cache-status"] == ("MISS" if attempt == 0 else "HIT-MEMORY")
            seen.append(fleet.served_by(answer.request_id))
        assert len(set(seen)) == 1 and seen[0] is not None, (key, seen)
        owners[key] = seen[0]
    assert set(owners.values()) == {"A", "B"}, owners


# --- (c) uploads ------------------------------------------------------------------


def _colour_of(answer: Answer) -> tuple[int, ...]:
    pixel = decode(answer.body).convert("RGB").getpixel((8, 8))
    assert isinstance(pixel, tuple)
    return pixel


def test_upload_passes_through_nginx_and_is_served(fleet: Fleet) -> None:
    key = f"uploads/{uuid.uuid4().hex}.png"
    red = solid(64, 48, (200, 0, 0, 255), mode="RGBA")
    created = fleet.request("PUT", f"/{key}", body=red, headers={"Content-Type": "image/png"})
    assert created.status == 201, created.body
    stored = json.loads(created.body)
    assert (stored["key"], stored["width"], stored["height"]) == (key, 64, 48)
    owner = fleet.served_by(created.request_id)
    assert owner is not None

    original = fleet.get(f"/{key}")
    assert (original.status, original.body) == (200, red)
    variant = fleet.get(f"/{key}?w=32&fm=webp")
    assert variant.status == 200
    assert variant.headers["content-type"] == "image/webp"
    assert decode(variant.body).size == (32, 24)
    assert _colour_of(variant)[0] > 150

    # Replaced through nginx: the replica that took the PUT invalidated S3 and
    # its memory; the fleet runs with PROXY_REVALIDATE_SECONDS=0, so a replica
    # holding the old variant in memory re-checks the original's ETag at once.
    blue = solid(64, 48, (0, 0, 200, 255), mode="RGBA")
    replaced = fleet.request("PUT", f"/{key}", body=blue, headers={"Content-Type": "image/png"})
    assert replaced.status == 200
    again = fleet.get(f"/{key}?w=32&fm=webp")
    assert again.status == 200
    assert _colour_of(again)[2] > 150
    assert fleet.served_by(variant.request_id) == fleet.served_by(again.request_id)


def _raw_put(fleet: Fleet, target: str, length: int, body: bytes = b"") -> tuple[int, str]:
    request_id = "raw-" + uuid.uuid4().hex
    with _handshake(fleet, fleet.context()) as tls:
        tls.sendall(
            f"PUT {target} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {length}\r\n"
            f"Content-Type: image/png\r\nX-Request-ID: {request_id}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        if body:
            tls.sendall(body)
        status_line = tls.makefile("rb").readline()
    return int(status_line.split()[1]), request_id


def test_uploads_larger_than_the_proxy_limit_are_refused_by_nginx(fleet: Fleet) -> None:
    # One byte over PROXY_MAX_SOURCE_BYTES: 413 from Content-Length alone,
    # before any body is sent, and no replica hears of it.
    status, request_id = _raw_put(fleet, "/uploads/too-big.png", MAX_BODY + 1)
    assert status == 413
    assert fleet.served_by(request_id, wait=0.5) is None
    # Exactly the limit passes nginx; the replica judges the bytes (zeros: 415).
    status, request_id = _raw_put(fleet, "/uploads/zeros.png", MAX_BODY, bytes(MAX_BODY))
    assert status == 415
    assert fleet.served_by(request_id) is not None


# --- the optional cache -------------------------------------------------------------


@pytest.fixture(scope="module")
def cached(fleet: Fleet) -> Iterator[Fleet]:
    """A second nginx over the same replicas, with NGINX_PROXY_CACHE=hot_variants."""
    nginx = start_nginx(
        fleet.tmp / "nginx-cached",
        fleet.tmp,
        [r.address for r in fleet.replicas],
        cache="hot_variants",
    )
    try:
        yield Fleet(fleet.tmp, fleet.ca, fleet.replicas, nginx)
    finally:
        nginx.stop()


def test_optional_cache_follows_cache_control_and_vary(cached: Fleet) -> None:
    target = "/photos/p01.jpg?w=36"  # no fm: the format follows Accept (Vary: Accept)

    def fetch(accept: str) -> tuple[str, str, str | None]:
        answer = cached.get(target, Accept=accept)
        assert answer.status == 200
        assert answer.headers["vary"] == "Accept"
        return (
            answer.headers["content-type"],
            answer.headers["x-nginx-cache"],
            cached.served_by(answer.request_id, wait=1.0),
        )

    webp = fetch("image/webp,*/*")
    assert webp[:2] == ("image/webp", "MISS") and webp[2] is not None
    assert fetch("image/webp,*/*") == ("image/webp", "HIT", None)  # no replica asked
    assert fetch("image/avif,image/webp,*/*")[:2] == ("image/avif", "MISS")
    assert fetch("image/avif,image/webp,*/*") == ("image/avif", "HIT", None)
    assert fetch("image/webp,*/*") == ("image/webp", "HIT", None)

    # `no-store` is never cached; a 404 with `public, max-age=60` is.
    for _ in range(2):
        health = cached.get("/healthz")
        assert (health.status, health.headers["x-nginx-cache"]) == (200, "MISS")
    missing = [cached.get("/photos/none.jpg?w=10") for _ in range(2)]
    assert [(a.status, a.headers["x-nginx-cache"]) for a in missing] == [
        (404, "MISS"),
        (404, "HIT"),
    ]


# --- (d) a stopped replica ----------------------------------------------------------


def test_a_stopped_replica_does_not_fail_requests(
    tmp_path: Path, s3_server: SeaweedS3, s3: Any
) -> None:
    bucket = _bucket_with_originals(s3_server, s3)
    with running_fleet(tmp_path, s3_server, bucket) as own:
        owners = {}
        for key in ORIGINALS:
            answer = own.get(f"/{key}?w=44")
            assert answer.status == 200
            owners[key] = own.served_by(answer.request_id)
        victim, survivor = own.replicas[1], own.replicas[0]
        on_victim = [key for key, owner in owners.items() if owner == victim.name]
        assert on_victim and len(on_victim) < len(ORIGINALS), owners

        # SIGTERM: the replica drains (keeps serving), closes its port and
        # exits. Requests for its originals keep succeeding meanwhile...
        assert victim.process is not None
        victim.process.send_signal(signal.SIGTERM)
        during: list[int] = []
        deadline = time.monotonic() + 15
        while victim.process.poll() is None and time.monotonic() < deadline:
            during.extend(own.get(f"/{key}?w=44").status for key in on_victim)
        assert victim.process.poll() == 0
        assert during and set(during) == {200}

        # ...and after it is gone, they are served by the survivor.
        for key in on_victim:
            for target in (f"/{key}?w=44", f"/{key}?w=45", f"/{key}"):
                answer = own.get(target)
                assert answer.status == 200, (target, answer.body)
                assert own.served_by(answer.request_id) == survivor.name
        upload = own.request(
            "PUT",
            f"/{on_victim[0]}",
            body=photo(90, 60),
            headers={"Content-Type": "image/jpeg"},
        )
        assert upload.status == 200
        assert own.served_by(upload.request_id) == survivor.name
        # nginx did try the stopped replica and moved on.
        errors = own.nginx.error_log.read_text()
        assert "connect() failed (111: Connection refused) while connecting to upstream" in errors
        assert victim.address in errors
