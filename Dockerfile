# syntax=docker/dockerfile:1
#
# resize-proxy image: Pillow-SIMD compiled from source in a build stage, then
# only wheels and runtime libraries in the final image.
#
#   docker build -t resize-proxy .
#   docker run --rm -p 8080:8080 -e PROXY_S3_BUCKET=images -e AWS_REGION=eu-west-1 resize-proxy
#
# AVX2: by default Pillow-SIMD is compiled with CC="cc -mavx2", so the image
# runs ONLY on x86-64 CPUs with AVX2 (about every server CPU since 2013-2015);
# on one without it the process dies at start with "Illegal instruction". The
# build itself runs the built PIL (see the runtime stage), so the build host
# must have AVX2 too. For older CPUs, or for arm64, turn it off:
#
#   docker build --build-arg PILLOW_SIMD_AVX2=0 -t resize-proxy .
#
# Needs BuildKit (the default builder since Docker 23, and always with
# `docker compose`): the runtime stage mounts the wheels instead of copying
# them, so they never stay in a layer of the final image.

# Debian packages follow the base image's bookworm point release, and pip
# installs offline from wheels the build resolved: no version pins there.
# hadolint global ignore=DL3008,DL3013

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------
# Build stage: compilers, -dev headers, and every wheel the runtime needs.
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build

ARG PILLOW_SIMD_VERSION=12.1.1.post0
# 1: CC="cc -mavx2" (needs AVX2 at run time); 0: plain CC="cc".
ARG PILLOW_SIMD_AVX2=1

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential \
      libjpeg62-turbo-dev zlib1g-dev libwebp-dev liblcms2-dev libtiff-dev libopenjp2-7-dev \
 && rm -rf /var/lib/apt/lists/*

# 1. Pillow-SIMD from its source distribution (--no-binary: never a prebuilt wheel).
RUN case "$PILLOW_SIMD_AVX2" in \
      1) CC="cc -mavx2" ;; \
      0) CC="cc" ;; \
      *) echo "PILLOW_SIMD_AVX2 must be 1 or 0, not '$PILLOW_SIMD_AVX2'" >&2; exit 1 ;; \
    esac \
 && if [ "$PILLOW_SIMD_AVX2" = 1 ] && [ "$(uname -m)" != x86_64 ]; then \
      echo "AVX2 exists only on x86-64; build with --build-arg PILLOW_SIMD_AVX2=0" >&2; exit 1; \
    fi \
 && echo "building Pillow-SIMD $PILLOW_SIMD_VERSION with CC='$CC'" \
 && CC="$CC" pip wheel --no-deps --no-binary pillow-simd --wheel-dir /wheels \
      "pillow-simd==$PILLOW_SIMD_VERSION"

# 2. The project and its runtime dependencies, as wheels. The constraint plus
#    --find-links make pip reuse the wheel built above instead of another
#    pillow-simd from the index.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY proxy ./proxy
RUN echo "pillow-simd==$PILLOW_SIMD_VERSION" > /tmp/constraints.txt \
 && pip wheel --wheel-dir /wheels --find-links /wheels --constraint /tmp/constraints.txt .

# 3. Prove the wheel set is complete and free of plain `pillow` (which would
#    overwrite Pillow-SIMD's PIL package): install it offline, Pillow-SIMD
#    first, then make sure `pip show pillow` fails.
RUN pip install --no-index --find-links /wheels "pillow-simd==$PILLOW_SIMD_VERSION" \
 && pip install --no-index --find-links /wheels resize-proxy \
 && if pip show pillow >/dev/null 2>&1; then \
      echo "a dependency pulled in plain 'pillow'; refusing" >&2; exit 1; \
    fi \
 && ls -1 /wheels

# ---------------------------------------------------------------------------
# Runtime stage: shared libraries, the wheels, no compiler, no headers.
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="resize-proxy" \
      org.opencontainers.image.description="On-demand image resize origin over the S3 REST endpoint"

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# The shared libraries the Pillow-SIMD build links against (libtiff6 brings
# its own: libdeflate, libjbig, liblerc, libzstd, liblzma).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libjpeg62-turbo zlib1g libwebp7 libwebpdemux2 libwebpmux3 liblcms2-2 libtiff6 libopenjp2-7 \
 && rm -rf /var/lib/apt/lists/*

# Offline install from the build stage's wheels (mounted for this step only),
# the same checks again, then a smoke test that the PIL in the image is
# Pillow-SIMD, loads against these libraries and encodes every output format.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels resize-proxy \
 && pip check \
 && if pip show pillow >/dev/null 2>&1; then echo "plain 'pillow' is installed" >&2; exit 1; fi \
 && python -c "import io; from PIL import Image; from proxy.imaging import is_simd_build, pil_version; assert is_simd_build(), pil_version(); [Image.new('RGB', (8, 8)).save(io.BytesIO(), f) for f in ('JPEG', 'PNG', 'WEBP', 'AVIF', 'GIF')]; print('PIL', pil_version(), '(Pillow-SIMD)')"

# A fixed, numeric non-root user (numeric so that Kubernetes' runAsNonRoot can
# verify it). It owns nothing: the code is root-owned and read-only to it.
RUN groupadd --system --gid 10001 proxy \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin proxy

# An empty working directory, so `python -m proxy` never imports from a
# writable place.
WORKDIR /app
USER 10001:10001

EXPOSE 8080

# Liveness only (no S3 call). Uses the port and scheme the proxy listens with;
# with PROXY_TLS_CERT set the port speaks only TLS, and the certificate is not
# checked on loopback. Health checks are exempt from signatures and the origin
# secret. (No curl in slim images: Python's urllib does it.)
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, ssl, urllib.request as u; tls = bool(os.environ.get('PROXY_TLS_CERT')); u.urlopen(('https' if tls else 'http') + '://127.0.0.1:' + os.environ.get('PROXY_PORT', '8080') + '/healthz', timeout=4, context=ssl._create_unverified_context() if tls else None)"]

# SIGTERM: /readyz turns 503 at once and in-flight requests get
# PROXY_SHUTDOWN_TIMEOUT seconds (25 by default): give the container more than
# that to stop (docker stop -t 30, compose stop_grace_period, Kubernetes
# terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM

ENTRYPOINT ["python", "-m", "proxy"]
CMD ["serve"]
