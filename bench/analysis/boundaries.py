"""Section-boundary benchmark on engine tracks whose section boundaries are known.

    .venv/bin/python bench/analysis/boundaries.py [--no-write]

Renders (and caches in bench/analysis/.corpus) tracks of 2.5–5 minutes with
our music engine, takes the composition's inner section boundaries as the
reference, runs `detect_sections` on the analysis features and rhythm, and
scores the detected inner boundaries with `mir_eval.segment.detection` (hit
rate F-measure within ±0.5 s and ±3 s, trim=True). Writes the table into
docs/benchmarks.md under "## Section boundaries".
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import mir_eval
import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from bench.music_generation import write_section  # noqa: E402
from soundstage.media.analysis.features import SR, compute_features  # noqa: E402
from soundstage.media.analysis.rhythm import estimate_rhythm  # noqa: E402
from soundstage.media.analysis.structure import detect_sections  # noqa: E402

CORPUS = HERE / ".corpus"
# (prompt, duration s, seed, bpm, key): moods, instruments and tempi vary
TRACKS = [
    ("calm piano", 240.0, 1, 72, "C"),
    ("uplifting strings", 210.0, 2, 110, "D"),
    ("dark cinematic cello", 300.0, 3, 60, "E"),
    ("warm guitar", 180.0, 4, 96, "G"),
    ("dreamy harp", 270.0, 5, 84, "F"),
    ("melancholic piano", 150.0, 6, 66, "A"),
    ("mysterious", 240.0, 7, 100, "B"),
    ("nostalgic", 200.0, 8, 120, "D#"),
    ("ethereal", 285.0, 9, 78, "F#"),
    ("cold meditative", 225.0, 10, 90, "G#"),
]


def render(track: tuple) -> tuple[str, list[float]]:
    """The track's wav and its reference inner boundaries (cached)."""
    from soundstage.config import Settings
    from soundstage.media.music.engine import MusicOutputs, MusicRequest, render_music

    prompt, duration, seed, bpm, key = track
    out = CORPUS / f"sections_{prompt.replace(' ', '-')}_{int(duration)}_{seed}_{bpm}{key}"
    wav, ref = out / "track.wav", out / "sections.json"
    if not (wav.exists() and ref.exists()):
        request = MusicRequest(prompt, duration, seed, bpm=bpm, key=key)
        result = render_music(request, out, soundfont=Settings().resolved_soundfont(),
                              work_dir=out / "work",
                              outputs=MusicOutputs(formats=("wav",), stems=False, midi=False))  # fmt: skip
        sections = [[s.start, s.end, s.label, s.energy] for s in result.composition.sections]
        ref.write_text(json.dumps(sections))
    sections = json.loads(ref.read_text())
    return str(wav), [float(s[0]) for s in sections[1:]]


def intervals(inner: list[float], duration: float) -> np.ndarray:
    edges = [0.0, *[b for b in inner if 0.0 < b < duration], duration]
    return np.array(list(itertools.pairwise(edges)))


def score(ref_inner: list[float], est_inner: list[float], duration: float) -> dict:
    ref, est = intervals(ref_inner, duration), intervals(est_inner, duration)
    out = {}
    for w in (0.5, 3.0):
        p, r, f = mir_eval.segment.detection(ref, est, window=w, trim=True)
        out[w] = (p, r, f)
    return out


def evaluate(track: tuple) -> dict:
    wav, ref_inner = render(track)
    y, sr = sf.read(wav, dtype="float32", always_2d=True)
    y = y.mean(axis=1)
    if sr != SR:
        import librosa

        y = librosa.resample(y, orig_sr=sr, target_sr=SR, res_type="soxr_hq")
    duration = len(y) / SR
    rhythm = estimate_rhythm(y, SR)
    sections = detect_sections(compute_features(y, SR), rhythm, duration)
    est_inner = [s.start for s in sections[1:]]
    return {
        "name": f"{track[0]} ({int(track[1])} s, {track[3]} BPM)",
        "ref": ref_inner,
        "est": est_inner,
        "scores": score(ref_inner, est_inner, duration),
    }


def markdown(rows: list[dict]) -> str:
    mean = [np.mean([r["scores"][w][k] for r in rows]) for w in (0.5, 3.0) for k in range(3)]
    met = "met" if mean[5] >= 0.80 else "not met"
    lines = [
        "## Section boundaries",
        "",
        f"Measured {dt.date.today().isoformat()} with "
        "`.venv/bin/python bench/analysis/boundaries.py` on "
        f"{len(rows)} tracks rendered by our own music engine (2.5–5 min, varied prompts, "
        "moods and tempi). The reference boundaries are the composition's own section "
        "changes (changes of energy, instrumentation and harmony), not human annotations "
        "of real songs, so these numbers say how well the detector finds clear "
        "arrangement changes, not how it fares on real verse/chorus structure. Scores: "
        "`mir_eval.segment.detection` (trim=True, inner boundaries only), F-measure of hits "
        f"within ±0.5 s (HR0.5F) and ±3 s (HR3F); target HR3F ≥ 0.80, {met}. The detector "
        "is a kernel change-point segmentation of per-bar timbre, energy, loudness and "
        "chroma similarities (features scaled by their bar-to-bar jitter) whose "
        "per-boundary penalty is lowered by the Foote novelty, then one song-wide shift "
        "of the boundaries by whole beats when the sharpest beat-to-beat changes sit off "
        'the bar lines (docs/analysis.md, "Structure"). On the same renders the kernel '
        "detector without the loudness view, the jitter scaling and the shift scored "
        "HR3F 0.75 (P 0.81, R 0.70), HR0.5F 0.58, and the detector before it (Foote "
        "novelty alone) HR3F 0.67, HR0.5F 0.56. Differences below ±0.05 in the mean are "
        "noise (moving every track's downbeats a beat early or late moves HR3F by "
        "−0.02/+0.01); the penalty, the loudness weight and the jitter floor were chosen "
        'or checked on these tracks (docs/analysis.md, "Structure"). The remaining misses: '
        "a slightly wrong tempo whose bar grid "
        'drifts ("cold meditative", 89.3 instead of 90 BPM: the phase error changes '
        "along the song, the song-wide shift cannot follow it); a doubled tempo "
        '("dark cinematic cello": half-bar units); sections whose audible change comes '
        "a bar or two after the composed one (a layer's release tail, slow pad attacks, "
        "a melody phrase ending early); changes carried by one soft layer or by a small "
        "step in loudness alone.",
        "",
        "| track | ref | est | HR0.5P | HR0.5R | HR0.5F | HR3P | HR3R | HR3F |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        s = r["scores"]
        lines.append(
            f"| {r['name']} | {len(r['ref'])} | {len(r['est'])} | "
            + " | ".join(f"{v:.2f}" for w in (0.5, 3.0) for v in s[w])
            + " |"
        )
    n_ref = sum(len(r["ref"]) for r in rows)
    n_est = sum(len(r["est"]) for r in rows)
    lines.append(
        f"| **mean** | {n_ref} | {n_est} | " + " | ".join(f"**{v:.2f}**" for v in mean) + " |"
    )
    return "\n".join(lines) + "\n\n"  # write_section keeps no blank line before the next heading


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    parser.add_argument("--verbose", action="store_true", help="print the boundaries")
    args = parser.parse_args()
    CORPUS.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(2) as pool:
        rows = list(pool.map(evaluate, TRACKS))
    if args.verbose:
        for r in rows:
            print(r["name"], "ref", [round(b, 1) for b in r["ref"]])
            print(" " * len(r["name"]), "est", [round(b, 1) for b in r["est"]])
    text = markdown(rows)
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
