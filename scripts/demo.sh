#!/usr/bin/env bash
# The main job on the embedded default: install everything, then generate an
# ambient track, its cover, MIDI, stems and 1080p video into ./output.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/soundstage generate "rain on a tin roof, slow piano, warm pads" \
  --duration "${SOUNDSTAGE_DEMO_DURATION:-180}" --seed 7 --video --out output
