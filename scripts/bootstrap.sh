#!/usr/bin/env bash
# Idempotent set-up for `make run` and `make test` on a Debian machine:
# system libraries for the Pillow-SIMD build, a virtualenv, Pillow-SIMD built
# from source (AVX2 where the CPU has it), then this package with its extras.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PILLOW_SIMD_VERSION=12.1.1.post0
APT_PACKAGES=(libjpeg62-turbo-dev zlib1g-dev libwebp-dev liblcms2-dev libtiff-dev libopenjp2-7-dev)
APT_PACKAGES+=("$@")  # extra packages a target needs (e.g. nginx for the tests)

missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing ${missing[*]} with apt"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PY="$VENV/bin/python"
"$PY" -m pip install -q --upgrade pip

# Pillow-SIMD must be the only PIL: build it from source unless it already is.
if ! "$PY" -c "import importlib.metadata as m, sys; sys.exit(m.version('pillow-simd') != '$PILLOW_SIMD_VERSION')" 2>/dev/null; then
  CC_FLAGS="cc"
  grep -qw avx2 /proc/cpuinfo && CC_FLAGS="cc -mavx2"
  echo "bootstrap: building Pillow-SIMD $PILLOW_SIMD_VERSION from source (CC='$CC_FLAGS')"
  "$PY" -m pip uninstall -q -y pillow pillow-simd 2>/dev/null || true
  CC="$CC_FLAGS" "$PY" -m pip install -q --no-cache-dir --no-binary pillow-simd "pillow-simd==$PILLOW_SIMD_VERSION"
fi

"$PY" -m pip install -q -e ".[test]"

# Anything depending on plain `pillow` would have overwritten Pillow-SIMD's files.
if "$PY" -m pip show -q pillow >/dev/null 2>&1; then
  echo "bootstrap: plain 'pillow' got installed by a dependency; refusing" >&2
  exit 1
fi
"$PY" -c "from proxy.imaging import is_simd_build, pil_version; assert is_simd_build(), pil_version(); print('bootstrap: PIL', pil_version(), '(Pillow-SIMD)')"
