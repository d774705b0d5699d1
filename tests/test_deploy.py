"""Static checks of the deployment files: Dockerfile, .dockerignore, docker-compose.yml,
the SeaweedFS identities and the CloudFront Function (whose node tests run here too).

There is no Docker engine where the tests run, so the Dockerfile is parsed, not built;
the one piece of code in it (the HEALTHCHECK) is run against a stub server.
"""

from __future__ import annotations

import fnmatch
import http.server
import json
import re
import shutil
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml

from proxy.config import SETTINGS, load_config
from proxy.options import negotiate_format

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "docker-compose.yml"
IDENTITIES = ROOT / "deploy" / "seaweedfs" / "s3.json"
CLOUDFRONT = ROOT / "cloudfront"

BASE_IMAGE = "python:3.11-slim-bookworm"
PILLOW_SIMD_VERSION = "12.1.1.post0"
RUNTIME_LIBRARIES = {
    "libjpeg62-turbo",
    "zlib1g",
    "libwebp7",
    "libwebpdemux2",
    "libwebpmux3",
    "liblcms2-2",
    "libtiff6",
    "libopenjp2-7",
}
COMPILERS = {"build-essential", "gcc", "g++", "cc", "clang", "make", "cpp"}


# --------------------------------------------------------------------------- Dockerfile


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [rest for kw, rest in self.instructions if kw == keyword]

    def text(self, keyword: str) -> str:
        return "\n".join(self.args(keyword))


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages, each a list of (KEYWORD, arguments)."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue  # comments (also inside continuations) and blank lines
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, rest = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"

    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for keyword, rest in instructions:
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", rest, re.IGNORECASE)
            assert match, f"unreadable FROM {rest!r}"
            base = re.sub(
                r"\$\{(\w+)\}|\$(\w+)",
                lambda m: global_args.get(m.group(1) or m.group(2), m.group(0)),
                match.group(1),
            )
            stages.append(Stage(base=base, name=match.group(2) or str(len(stages))))
        elif not stages:
            assert keyword == "ARG", f"{keyword} before the first FROM"
            name, _, default = rest.partition("=")
            global_args[name.strip()] = default.strip().strip('"')
        else:
            stages[-1].instructions.append((keyword, rest))
    return global_args, stages


def apt_packages(run: str) -> set[str]:
    """The packages named by every `apt-get install` in a RUN line."""
    packages: set[str] = set()
    for command in re.split(r"&&|;|\|\|", run):
        words = command.split()
        if "apt-get" in words and "install" in words:
            after = words[words.index("install") + 1 :]
            packages.update(word for word in after if not word.startswith("-"))
    return packages


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile(DOCKERFILE.read_text())[1]


@pytest.fixture(scope="module")
def build(stages: list[Stage]) -> Stage:
    return stages[0]


@pytest.fixture(scope="module")
def runtime(stages: list[Stage]) -> Stage:
    return stages[-1]


def test_dockerfile_has_a_build_and_a_runtime_stage_on_the_same_base(stages: list[Stage]) -> None:
    assert len(stages) >= 2
    assert {stage.base for stage in stages} == {BASE_IMAGE}


def test_build_stage_compiles_pillow_simd_from_source_with_avx2(build: Stage) -> None:
    run = build.text("RUN")
    assert {"build-essential", "libjpeg62-turbo-dev", "zlib1g-dev"} <= apt_packages(run)
    assert "--no-binary pillow-simd" in run
    assert 'CC="cc -mavx2"' in run
    assert f"PILLOW_SIMD_VERSION={PILLOW_SIMD_VERSION}" in build.args("ARG")
    # AVX2 can be turned off, and the default is on.
    assert "PILLOW_SIMD_AVX2=1" in build.args("ARG")


def test_build_stage_refuses_plain_pillow(build: Stage) -> None:
    run = build.text("RUN")
    assert "--no-index" in run
    assert "pip show pillow" in run
    simd_first = run.index('pip install --no-index --find-links /wheels "pillow-simd==')
    project = run.index("pip install --no-index --find-links /wheels resize-proxy")
    assert simd_first < project, "Pillow-SIMD is installed before the project"


def test_runtime_stage_has_libraries_but_no_headers_or_compiler(runtime: Stage) -> None:
    run = runtime.text("RUN")
    packages = apt_packages(run)
    assert packages == RUNTIME_LIBRARIES
    assert not {p for p in packages if p.endswith("-dev")}
    assert not packages & COMPILERS
    assert "-dev" not in run


def test_runtime_stage_installs_the_wheels_offline(runtime: Stage) -> None:
    run = runtime.text("RUN")
    copied = any("--from=build" in rest for rest in runtime.args("COPY"))
    mounted = "--mount=type=bind,from=build" in run
    assert copied or mounted, "the wheels come from the build stage"
    assert "pip install --no-index" in run
    assert "pip show pillow" in run
    assert "is_simd_build()" in run, "the image proves its PIL is Pillow-SIMD"


def test_runtime_stage_runs_as_a_fixed_non_root_user(runtime: Stage) -> None:
    users = runtime.args("USER")
    assert users, "no USER: the container would run as root"
    user, _, group = users[-1].partition(":")
    assert user.isdigit() and int(user) != 0, "a fixed numeric UID, not root"
    assert not group or (group.isdigit() and int(group) != 0)


def test_runtime_stage_entrypoint_cmd_and_signals(runtime: Stage) -> None:
    assert json.loads(runtime.args("ENTRYPOINT")[-1]) == ["python", "-m", "proxy"]
    assert json.loads(runtime.args("CMD")[-1]) == ["serve"]
    assert runtime.args("STOPSIGNAL") == ["SIGTERM"]
    assert runtime.args("EXPOSE") == ["8080"]
    assert "PYTHONUNBUFFERED=1" in runtime.text("ENV").split()


def healthcheck_command(runtime: Stage) -> list[str]:
    (healthcheck,) = runtime.args("HEALTHCHECK")
    assert "/healthz" in healthcheck
    _, _, exec_form = healthcheck.partition(" CMD ")
    command = json.loads(exec_form)
    assert isinstance(command, list) and command[0] == "python"
    return [str(part) for part in command]


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        code = self.status if self.path == "/healthz" else 404
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def health_server(request: pytest.FixtureRequest) -> Iterator[http.server.HTTPServer]:
    """A stub /healthz on loopback: param (status, tls)."""
    status, tls = request.param
    handler = type("Handler", (_Health,), {"status": status})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    if tls:
        ca = trustme.CA()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("localhost").configure_cert(context)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def run_healthcheck(runtime: Stage, port: int, tls: bool) -> int:
    command = healthcheck_command(runtime)
    env = {"PROXY_PORT": str(port), "PATH": "/usr/bin:/bin"}
    if tls:
        env["PROXY_TLS_CERT"] = "/certs/tls.crt"
    completed = subprocess.run(
        [sys.executable, *command[1:]], env=env, capture_output=True, timeout=30, check=False
    )
    return completed.returncode


@pytest.mark.parametrize(
    ("health_server", "healthy"),
    [((200, False), True), ((503, False), False), ((200, True), True)],
    indirect=["health_server"],
    ids=["http-200", "http-503", "tls-200"],
)
def test_healthcheck_command_reports_healthz(
    runtime: Stage, health_server: http.server.HTTPServer, healthy: bool
) -> None:
    tls = isinstance(health_server.socket, ssl.SSLSocket)
    code = run_healthcheck(runtime, health_server.server_address[1], tls)
    assert (code == 0) is healthy


def test_healthcheck_fails_when_nothing_listens(runtime: Stage) -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    port = server.server_address[1]
    server.server_close()
    assert run_healthcheck(runtime, port, tls=False) != 0


def dockerignore_patterns() -> list[str]:
    lines = (line.strip() for line in DOCKERIGNORE.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def test_dockerignore_excludes_the_repository_clutter() -> None:
    patterns = dockerignore_patterns()
    for needed in (".git", ".venv", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".demo"):
        assert needed in patterns


def test_dockerignore_keeps_what_the_dockerfile_copies(build: Stage) -> None:
    patterns = [p for p in dockerignore_patterns() if not p.startswith("!")]
    sources = [
        word
        for rest in build.args("COPY")
        if "--from=" not in rest
        for word in rest.split()[:-1]
        if not word.startswith("--")
    ]
    assert {"pyproject.toml", "README.md", "proxy"} <= set(sources)
    for source in sources:
        for path in (source, f"{source}/__init__.py"):
            hits = [p for p in patterns if fnmatch.fnmatch(path, p.removeprefix("**/"))]
            assert not hits, f"{path} is excluded by {hits}"


# --------------------------------------------------------------------------- compose


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result = compose["services"]
    assert isinstance(result, dict)
    return result


def proxies(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in services.items() if "build" in svc}


def depends(service: dict[str, Any]) -> dict[str, str]:
    """depends_on as {service: condition}, whichever syntax is used."""
    raw = service.get("depends_on") or {}
    if isinstance(raw, list):
        return dict.fromkeys(raw, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in raw.items()}


def interpolate(value: str) -> str:
    """Compose's ${VAR:-default} with nothing set, and $$ -> $."""
    value = re.sub(r"\$\{\w+(?::?-([^}]*))?\}", lambda m: m.group(1) or "", value)
    return value.replace("$$", "$")


def environment(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.partition("=")[::2] for item in raw)
    return {str(k): interpolate(str(v)) for k, v in raw.items()}


def test_compose_has_the_five_services(services: dict[str, dict[str, Any]]) -> None:
    assert "seaweedfs" in services
    assert services["seaweedfs"]["image"].startswith("chrislusf/seaweedfs")
    assert "bucket-init" in services
    assert len(proxies(services)) == 2
    assert services["nginx"]["image"].startswith("nginx:")


def test_compose_seaweedfs_refuses_anonymous_requests(services: dict[str, dict[str, Any]]) -> None:
    seaweed = services["seaweedfs"]
    command = " ".join(seaweed["command"])
    assert "-s3.config=/etc/seaweedfs/s3.json" in command
    assert "./deploy/seaweedfs/s3.json:/etc/seaweedfs/s3.json:ro" in seaweed["volumes"]
    assert "-master.telemetry=false" in command
    identities = json.loads(IDENTITIES.read_text())["identities"]
    assert identities, "an identities file with no identity leaves S3 open"
    for identity in identities:
        assert identity["credentials"], f"{identity['name']} would be anonymous"
        assert identity["name"].lower() != "anonymous"
    # Published only on loopback, if at all.
    for port in seaweed.get("ports", []):
        assert str(port).startswith("127.0.0.1:")


def identity_for(access_key: str) -> dict[str, Any]:
    for identity in json.loads(IDENTITIES.read_text())["identities"]:
        for credential in identity["credentials"]:
            if credential["accessKey"] == access_key:
                return {**identity, "secretKey": credential["secretKey"]}
    raise AssertionError(f"no identity in {IDENTITIES.name} has access key {access_key!r}")


def test_compose_bucket_init_creates_the_bucket_once_s3_is_healthy(
    services: dict[str, dict[str, Any]],
) -> None:
    init = services["bucket-init"]
    assert init["image"].startswith("amazon/aws-cli")
    assert depends(init) == {"seaweedfs": "service_healthy"}
    assert "healthcheck" in services["seaweedfs"]
    script = " ".join(init["command"])
    assert "s3 mb" in script and "head-bucket" in script
    env = environment(init)
    identity = identity_for(env["AWS_ACCESS_KEY_ID"])
    assert env["AWS_SECRET_ACCESS_KEY"] == identity["secretKey"]
    assert "Admin" in identity["actions"]


def test_compose_proxies_are_configured_for_the_private_bucket(
    services: dict[str, dict[str, Any]],
) -> None:
    bucket = environment(services["bucket-init"])["BUCKET"]
    known = {setting.env for setting in SETTINGS}
    for name, proxy in proxies(services).items():
        env = environment(proxy)
        assert env["PROXY_S3_BUCKET"] == bucket, name
        assert env["PROXY_S3_ENDPOINT_URL"] == "http://seaweedfs:8333", name
        # Every PROXY_* name is a real setting, and the whole set loads.
        assert {k for k in env if k.startswith("PROXY_")} <= known, name
        load_config(env)
        identity = identity_for(env["AWS_ACCESS_KEY_ID"])
        assert env["AWS_SECRET_ACCESS_KEY"] == identity["secretKey"]
        assert {f"Read:{bucket}", f"Write:{bucket}", f"List:{bucket}"} <= set(identity["actions"])
        assert depends(proxy) == {"bucket-init": "service_completed_successfully"}, name
        assert proxy["build"]["context"] == "."
        assert proxy.get("stop_grace_period") == "30s"


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Bind mounts as {container path: host path}."""
    result = {}
    for volume in service.get("volumes", []):
        source, target, *_ = str(volume).split(":")
        if source.startswith("."):
            result[target] = source
    return result


def test_compose_nginx_fronts_both_proxies(services: dict[str, dict[str, Any]]) -> None:
    nginx = services["nginx"]
    assert set(proxies(services)) <= set(depends(nginx))
    env = environment(nginx)
    bound = mounts(nginx)
    # The upstreams file lists exactly the proxies.
    upstreams = ROOT / bound[env["NGINX_UPSTREAMS_FILE"]]
    servers = re.findall(r"^\s*server\s+(\S+)", upstreams.read_text(), re.MULTILINE)
    assert sorted(servers) == sorted(f"{name}:8080" for name in proxies(services))
    # TLS files come from deploy/certs, which holds no committed key.
    assert bound["/etc/nginx/certs"] == "./deploy/certs"
    assert env["NGINX_TLS_CERT"].startswith("/etc/nginx/certs/")
    assert env["NGINX_TLS_KEY"].startswith("/etc/nginx/certs/")
    assert (ROOT / "deploy" / "certs" / ".gitignore").is_file()


def test_compose_nginx_template_gets_every_placeholder(
    services: dict[str, dict[str, Any]],
) -> None:
    # The official image renders /etc/nginx/templates/*.template with envsubst,
    # for the variables whose names match NGINX_ENVSUBST_FILTER, and no defaults.
    nginx = services["nginx"]
    env = environment(nginx)
    templates = {
        target: source
        for target, source in mounts(nginx).items()
        if target.startswith("/etc/nginx/templates/") and target.endswith(".template")
    }
    assert templates, "the nginx config comes from a template"
    substituted = {name for name in env if re.search(env.get("NGINX_ENVSUBST_FILTER", ""), name)}
    for source in templates.values():
        placeholders = set(re.findall(r"\$\{(\w+)\}", (ROOT / source).read_text()))
        assert placeholders, f"{source} has no ${{...}} placeholders"
        assert placeholders <= substituted, f"not set for {source}: {placeholders - substituted}"


def test_no_private_key_is_committed_under_deploy() -> None:
    for path in (ROOT / "deploy").rglob("*"):
        if path.is_file():
            assert "PRIVATE KEY" not in path.read_text(errors="replace"), path


# --------------------------------------------------------------------------- CloudFront


def node() -> str:
    found = shutil.which("node")
    assert found, "node is missing (the Makefile installs nodejs): the function is untested"
    return found


def test_cloudfront_function_node_tests_pass() -> None:
    # `node --test cloudfront/`, with the test files named, as newer node versions
    # read the arguments as globs rather than directories.
    files = sorted(str(p.relative_to(ROOT)) for p in CLOUDFRONT.glob("*.test.js"))
    assert files
    completed = subprocess.run(
        [node(), "--test", *files],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    passed = re.search(r"^\S* ?pass (\d+)$", output, re.MULTILINE)
    assert passed and int(passed.group(1)) > 0, output


ACCEPT_HEADERS = [
    "",
    "*/*",
    "image/*",
    "image/avif",
    "image/webp",
    "IMAGE/AVIF",
    "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
    "image/webp,*/*",
    "image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5",
    "image/avif;q=0,image/webp",
    "image/avif;q=0.0,image/webp;q=0",
    "image/avif;q=0.001",
    "image/avif;q=,image/webp",
    "image/avif;q,image/webp",
    "image/avif;q=abc,image/webp;q=1.0",
    "image/avif;level=1;q=0.5",
    "image/avif ;q=0 , Image/WebP ; Q=0.5",
    "image/avif;q =0",
    "image/avifs,image/x-webp",
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
]


def test_cloudfront_function_agrees_with_the_proxy() -> None:
    script = (
        "const { normaliseAccept } = require('./cloudfront/accept-function.js');"
        "const headers = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "process.stdout.write(JSON.stringify(headers.map((h) => normaliseAccept([h]))));"
    )
    completed = subprocess.run(
        [node(), "-e", script],
        cwd=ROOT,
        input=json.dumps(ACCEPT_HEADERS),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    edge = json.loads(completed.stdout)
    for header, normalised in zip(ACCEPT_HEADERS, edge, strict=True):
        # What the proxy would pick from the raw header, and from the edge's header.
        direct = negotiate_format(header)
        via_edge = negotiate_format(normalised)
        assert via_edge == direct, (header, normalised)
        assert normalised in (None, f"image/{direct}"), (header, normalised)
