#!/usr/bin/env bash
# Installs everything Soundstage needs on Debian 12 (or a machine that already
# has the packages): Debian packages when missing, the web studio's front-end
# libraries from the npm registry, then ./.venv with the `soundstage` command.
# Safe to run again; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || need_apt+=(ffmpeg)
[ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || need_apt+=(fluid-soundfont-gm)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need_apt+=(python3-venv)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
# The browser the web studio's end-to-end tests drive (Playwright, no browser download).
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)

if [ ${#need_apt[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing Debian packages: ${need_apt[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

# Front-end libraries (htmx, wavesurfer.js, Chart.js), served as static files:
# installed from the lockfile into the git-ignored node_modules of the vendor
# folder, again only when the lockfile changed.
vendor=soundstage/web/static/vendor
if ! cmp -s "$vendor/package-lock.json" "$vendor/node_modules/.soundstage-lock.json"; then
  echo "setup: installing the web studio's front-end libraries (npm ci)"
  (cd "$vendor" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$vendor/package-lock.json" "$vendor/node_modules/.soundstage-lock.json"
fi

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "setup: Python 3.11 or newer is required (found $(python3 --version))" >&2; exit 1; }

[ -x .venv/bin/python ] || python3 -m venv .venv
pip_install() { .venv/bin/python -m pip install -q --disable-pip-version-check "$@"; }
pip_install --upgrade pip
# See pyproject.toml: tinysoundfont's playback-only dependency is skipped.
pip_install --no-deps "tinysoundfont>=0.3.7"
# Only basic-pitch's shipped ONNX note model is used (run with onnxruntime);
# its declared dependencies pull TensorFlow (~500 MB), so they are skipped too.
pip_install --no-deps "basic-pitch==0.4.0"
# Only tempocnn's shipped model file (models/cnn.h5, run by our NumPy code) is used;
# it pins TensorFlow 2.17, so its dependencies are skipped as well, and its Python cap
# (< 3.12, TensorFlow's) does not apply to a model file.
pip_install --no-deps --ignore-requires-python "tempocnn==0.0.8"
pip_install -e ".[${SOUNDSTAGE_EXTRAS:-test}]"
# Compile librosa's numba kernels once, in this one process: numba's on-disk cache can be
# torn when several processes (workers, tests) first write it at once, and a torn entry
# crashes the process that loads it.
.venv/bin/python -c 'import numpy as np
from soundstage.media.analysis.analyze import analyze_signal
analyze_signal(0.1 * np.random.default_rng(0).standard_normal(22050 * 8).astype(np.float32))'
echo "setup: ready — $(pwd)/.venv/bin/soundstage"
