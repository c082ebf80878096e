#!/usr/bin/env bash
# Set up polydesk on a fresh machine and run the main job on embedded defaults.
#   1. create .venv/ with Python 3.11
#   2. install the CPU build of torch first (a plain "torch" would pull several GB of CUDA packages)
#   3. install the locked dependency set without re-resolving (requirements.lock), then polydesk itself
#   4. install Debian's chromium, chromium-driver and a CJK font for the browser tests (tests/browser/), when missing
#   5. run `polydesk demo`: ingest the bundled demo brand and answer sample searches
# Set POLYDESK_SKIP_DEMO=1 to only install.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "polydesk needs Python 3.11")'

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip install --disable-pip-version-check --progress-bar off)

LOCK_STAMP=.venv/.polydesk-lock.sha256
LOCK_SUM="$(sha256sum requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$LOCK_STAMP" 2>/dev/null)" != "$LOCK_SUM" ]; then
  echo "==> installing torch (CPU) and the locked dependencies (a few minutes on a fresh machine)"
  "${PIP[@]}" -q "torch==2.13.0"
  "${PIP[@]}" -q --no-deps -r requirements.lock
  # unstructured's PDF extra pulls a torchvision that does not match the CPU torch; PDF "fast" parsing needs none.
  .venv/bin/python -m pip uninstall -y -q torchvision 2>/dev/null || true
  "${PIP[@]}" -q --no-deps -e .
  .venv/bin/python -m pip check || true
  echo "$LOCK_SUM" > "$LOCK_STAMP"
fi

# The browser tests drive the system's browser and driver (Selenium never downloads one); the console's Chinese
# screenshots need a CJK font.
BROWSER_PACKAGES=()
{ command -v chromium >/dev/null && command -v chromedriver >/dev/null; } || BROWSER_PACKAGES+=(chromium chromium-driver)
{ command -v fc-list >/dev/null && fc-list 2>/dev/null | grep -qi "CJK"; } || BROWSER_PACKAGES+=(fonts-noto-cjk)
if [ ${#BROWSER_PACKAGES[@]} -gt 0 ]; then
  SUDO=()
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && sudo -n true 2>/dev/null && SUDO=(sudo -n)
  if command -v apt-get >/dev/null && { [ "$(id -u)" -eq 0 ] || [ ${#SUDO[@]} -gt 0 ]; }; then
    echo "==> installing ${BROWSER_PACKAGES[*]} (browser tests)"
    "${SUDO[@]}" apt-get update -q >/dev/null \
      && "${SUDO[@]}" apt-get install -y -q "${BROWSER_PACKAGES[@]}" >/dev/null \
      || echo "    could not install them; the browser tests will be skipped (CI=true: they fail)"
  else
    echo "==> the browser tests need ${BROWSER_PACKAGES[*]}: as root, apt-get install -y ${BROWSER_PACKAGES[*]}"
  fi
fi

if [ "${POLYDESK_SKIP_DEMO:-0}" != "1" ]; then
  echo "==> polydesk demo"
  .venv/bin/polydesk demo
fi
