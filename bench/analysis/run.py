"""Accuracy benchmark of rhythm and key analysis on a synthetic corpus with ground truth.

    .venv/bin/python bench/analysis/run.py [--quick] [--no-write]

Builds (and caches in bench/analysis/.corpus) tracks rendered by our music
engine at known key and tempo, click tracks, numpy drum patterns (slow, fast,
3/4, 6/8, swing, half-time, a tempo ramp), genre grooves played through the
General-MIDI SoundFont and chord pads in all 24 keys, then
scores `estimate_rhythm` and `estimate_key` with mir_eval and writes the table
into docs/benchmarks.md under "## Analysis accuracy".
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import mir_eval
import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from synth import GM_GROOVES, NOTE_NAMES, chord_pad, click_track, drum_pattern, gm_groove  # noqa: E402

from soundstage.media.analysis.key import estimate_key  # noqa: E402
from soundstage.media.analysis.rhythm import estimate_rhythm  # noqa: E402

CORPUS = HERE / ".corpus"
SR = 22050
ENGINE_PROMPTS = ("calm piano", "uplifting strings", "warm guitar", "dreamy harp", "nostalgic")


# --- tempo metrics (MIREX) ----------------------------------------------------


def acc1(est: float, ref: float, tol: float = 0.04) -> bool:
    return abs(est - ref) <= tol * ref


def acc2(est: float, ref: float, tol: float = 0.04) -> bool:
    return any(acc1(est, ref * f, tol) for f in (1.0, 2.0, 3.0, 0.5, 1.0 / 3.0))


# --- corpus ---------------------------------------------------------------------


def engine_items(quick: bool) -> list[dict]:
    keys = [("C", "major"), ("F#", "minor"), ("A", "minor"), ("D#", "major"), ("G", "minor"),
            ("B", "major"), ("E", "minor"), ("G#", "major")]  # fmt: skip
    tempi = [72, 90, 100, 120] if quick else [66, 72, 84, 90, 100, 110, 120, 132]
    items = []
    for i, (key, mode) in enumerate(keys[: 4 if quick else 8]):
        bpm = tempi[i % len(tempi)] if quick else tempi[i]
        items.append({"key": key, "mode": mode, "bpm": bpm, "seed": i, "duration": 60.0,
                      "prompt": ENGINE_PROMPTS[i % len(ENGINE_PROMPTS)]})  # fmt: skip
    return items


def _render(item: dict) -> str:
    from soundstage.config import Settings
    from soundstage.media.music.engine import MusicOutputs, MusicRequest, render_music

    name = (
        f"engine_{item['key']}{item['mode']}_{item['bpm']}_{item['seed']}_{int(item['duration'])}"
    )
    out = CORPUS / name
    wav = out / "track.wav"
    if not wav.exists():
        request = MusicRequest(item["prompt"], item["duration"], item["seed"], key=item["key"],
                               mode=item["mode"], bpm=item["bpm"])  # fmt: skip
        render_music(request, out, soundfont=Settings().resolved_soundfont(), work_dir=out / "work",
                     outputs=MusicOutputs(formats=("wav",), stems=False, midi=False))  # fmt: skip
    return str(wav)


def _soundfont() -> str | None:
    from soundstage.config import Settings

    path = Settings().resolved_soundfont()
    return str(path) if path is not None and Path(path).exists() else None


def build_corpus(quick: bool) -> list[dict]:
    CORPUS.mkdir(parents=True, exist_ok=True)
    cases: list[dict] = []
    items = engine_items(quick)
    with ProcessPoolExecutor(2) as pool:
        wavs = list(pool.map(_render, items))
    for item, wav in zip(items, wavs, strict=True):
        y, sr = sf.read(wav, dtype="float32", always_2d=True)
        beats = np.arange(0.0, item["duration"] - 1e-9, 60.0 / item["bpm"])
        cases.append({"category": "engine", "name": Path(wav).parent.name, "y": y.T, "sr": sr,
                      "bpm": item["bpm"], "beats": beats, "downbeats": beats[::4], "meter": 4,
                      "key": f"{item['key']} {item['mode']}"})  # fmt: skip
    dur = 20.0 if quick else 30.0
    click_tempi = [40, 60, 120, 200] if quick else [40, 50, 60, 75, 90, 120, 150, 180, 200, 220]
    for bpm in click_tempi:
        for meter in (4, 3):
            y, t = click_track(bpm, dur, SR, meter=meter)
            cases.append(
                {"category": "click", "name": f"click {bpm} {meter}/4", "y": y, "sr": SR, **t}
            )
    styles = ["rock", "four", "half", "swing"]
    drum_tempi = (
        [50, 100, 140, 190] if quick else [45, 55, 70, 85, 100, 115, 128, 140, 160, 175, 190, 210]
    )
    for i, bpm in enumerate(drum_tempi):
        for style in styles if not quick else styles[i % 2 :: 2]:
            y, t = drum_pattern(bpm, dur, SR, style=style, seed=i)
            cases.append(
                {
                    "category": f"drums 4/4 ({style})",
                    "name": f"{style} {bpm}",
                    "y": y,
                    "sr": SR,
                    **t,
                }
            )
    for bpm in [60, 90, 120] if quick else [50, 70, 90, 110, 140, 175]:
        y, t = drum_pattern(bpm, dur, SR, style="waltz", seed=bpm)
        cases.append({"category": "drums 3/4", "name": f"waltz {bpm}", "y": y, "sr": SR, **t})
    for bpm in [60, 80] if quick else [45, 55, 65, 80, 95]:
        y, t = drum_pattern(bpm, dur, SR, style="six8", seed=bpm)
        cases.append({"category": "drums 6/8", "name": f"six8 {bpm}", "y": y, "sr": SR, **t})
    for a, b in [(90, 120)] if quick else [(90, 120), (130, 100), (70, 85)]:
        y, t = drum_pattern(a, 40.0, SR, style="rock", seed=a, end_bpm=b)
        cases.append({"category": "tempo ramp", "name": f"ramp {a}->{b}", "y": y, "sr": SR, **t})
    soundfont = _soundfont()
    if soundfont is not None:
        k = 0
        for name, (tempi, _, _) in GM_GROOVES.items():
            for bpm in tempi:
                k += 1
                if quick and k % 2:
                    continue
                y, t = gm_groove(name, bpm, dur, soundfont, SR, seed=k)
                cases.append({"category": "GM grooves", "name": f"{name} {bpm}", "y": y, "sr": SR,
                              **t})  # fmt: skip
    for i, tonic in enumerate(NOTE_NAMES):
        for mode in ("major", "minor"):
            if quick and i % 3:
                continue
            y, t = chord_pad(tonic, mode, dur, SR, seed=i)
            if i % 2:
                drums, _ = drum_pattern(100, dur, SR, style="rock", seed=i, bass=False)
                y = (y + 0.5 * drums).astype(np.float32)
            cases.append({"category": "chord pads", "name": f"pad {tonic} {mode}", "y": y,
                          "sr": SR, "key": f"{tonic} {mode}"})  # fmt: skip
    return cases


# --- scoring ----------------------------------------------------------------------


def score(cases: list[dict]) -> tuple[list[dict], float]:
    rows = []
    elapsed = 0.0
    for case in cases:
        row = {"category": case["category"], "name": case["name"]}
        has_rhythm = "beats" in case
        t0 = time.perf_counter()
        rhythm = estimate_rhythm(case["y"], case["sr"]) if has_rhythm else None
        key = estimate_key(case["y"], case["sr"]) if "key" in case else None
        elapsed += time.perf_counter() - t0
        if rhythm is not None:
            ref_beats = mir_eval.beat.trim_beats(np.asarray(case["beats"]))
            est_beats = mir_eval.beat.trim_beats(np.asarray(rhythm.beats))
            row["beat_f"] = mir_eval.beat.f_measure(ref_beats, est_beats) if len(est_beats) else 0.0
            if case.get("bpm"):
                row["acc1"] = float(acc1(rhythm.bpm, case["bpm"]))
                row["acc2"] = float(acc2(rhythm.bpm, case["bpm"]))
            ref_down = np.asarray(case["downbeats"])
            est_down = np.asarray(rhythm.downbeats)
            ref_down = ref_down[ref_down >= 5.0]
            est_down = est_down[est_down >= 5.0]
            row["downbeat_f"] = (
                mir_eval.beat.f_measure(ref_down, est_down) if len(est_down) else 0.0
            )
            if case["meter"] in (3, 4):
                row["meter"] = float(rhythm.meter == case["meter"])
            row["est_bpm"] = rhythm.bpm
            row["ref_bpm"] = case.get("bpm")
        if key is not None:
            row["key"] = mir_eval.key.weighted_score(case["key"], f"{key.key} {key.mode}")
            row["est_key"] = f"{key.key} {key.mode}"
        rows.append(row)
    return rows, elapsed


HALF = "drums 4/4 (half)"
METRICS = (("acc1", "tempo Acc1"), ("acc2", "tempo Acc2"), ("beat_f", "beat F"),
           ("downbeat_f", "downbeat F"), ("meter", "meter acc."), ("key", "key weighted"))  # fmt: skip


def table(rows: list[dict]) -> str:
    categories = list(dict.fromkeys(r["category"] for r in rows))
    head = "| category | n | " + " | ".join(label for _, label in METRICS) + " |"
    lines = [head, "|---|---:|" + "---:|" * len(METRICS)]
    for cat in [*categories, "overall"]:
        sel = rows if cat == "overall" else [r for r in rows if r["category"] == cat]
        cells = []
        for metric, _ in METRICS:
            values = [r[metric] for r in sel if metric in r]
            cells.append(f"{np.mean(values):.2f}" if values else "–")
        name = f"**{cat}**" if cat == "overall" else cat
        lines.append(f"| {name} | {len(sel)} | " + " | ".join(cells) + " |")
    if HALF in categories:  # its reference is a judgement call: also show the total without it
        sel = [r for r in rows if r["category"] != HALF]
        cells = []
        for metric, _ in METRICS:
            values = [r[metric] for r in sel if metric in r]
            cells.append(f"{np.mean(values):.2f}" if values else "–")
        lines.append(f"| overall without *half* | {len(sel)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_section(markdown: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(r"^## Analysis accuracy\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: markdown.rstrip() + "\n\n", text).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + markdown.rstrip() + "\n"
    path.write_text(text)


def _target_note(rows: list[dict]) -> str:
    """Whether the issue-3 targets (tempo Acc1 ≥ 0.95, beat F ≥ 0.90) are met, with and without half."""

    def mean(metric: str, sel: list[dict]) -> float:
        return float(np.mean([r[metric] for r in sel if metric in r]))

    parts = []
    for label, sel in (
        ("all", rows),
        ("without *half*", [r for r in rows if r["category"] != HALF]),
    ):
        a1, bf = mean("acc1", sel), mean("beat_f", sel)
        verdict = "met" if a1 >= 0.95 and bf >= 0.90 else "**not met**"
        parts.append(f"{label}: Acc1 {a1:.3f}, beat F {bf:.3f} → {verdict}")
    return "Targets (tempo Acc1 ≥ 0.95, beat F ≥ 0.90) — " + "; ".join(parts) + "."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller corpus (about a minute)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs alone")
    args = parser.parse_args()
    started = time.perf_counter()
    cases = build_corpus(args.quick)
    built = time.perf_counter() - started
    rows, elapsed = score(cases)
    audio_s = sum(c["y"].shape[-1] / c["sr"] for c in cases)
    md_table = table(rows)
    misses = [r for r in rows if r.get("acc1") == 0.0 or r.get("key", 1.0) < 1.0]
    print(md_table)
    print(f"\ncorpus {len(cases)} items built in {built:.1f} s; analysis {elapsed:.1f} s "
          f"for {audio_s / 60:.1f} min of audio")  # fmt: skip
    for r in misses:
        print("  miss:", r["name"], "→", r.get("est_bpm", ""), r.get("est_key", ""))
    command = ".venv/bin/python bench/analysis/run.py" + (" --quick" if args.quick else "")
    engine_misses = [
        f"{r['name'].split('_')[2]} BPM → {r['est_bpm']:g}"
        for r in rows
        if r["category"] == "engine" and r.get("acc1") == 0.0
    ]
    engine_note = (
        "Engine misses at the requested octave: " + ", ".join(engine_misses) + "."
        if engine_misses
        else "Every *engine* track is reported at the requested tempo."
    )
    half_misses = [
        f"{r['name'].split()[1]} → {r['ref_bpm']:g} → {r['est_bpm']:g}"
        for r in rows
        if r["category"] == HALF and r.get("acc1") == 0.0
    ]
    half_note = (
        "Half-time misses (notated → reference → reported BPM): " + ", ".join(half_misses) + "."
        if half_misses
        else "Every half-time groove is reported at the reference level."
    )
    gm_misses = [
        f"{r['name']} → {r['est_bpm']:g}"
        for r in rows
        if r["category"] == "GM grooves" and r.get("acc1") == 0.0
    ]
    gm_note = "GM grooves off the reference octave: " + (", ".join(gm_misses) or "none") + "."
    target_note = _target_note(rows)
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = f"""## Analysis accuracy

Rhythm (`estimate_rhythm`) and key (`estimate_key`) on a **synthetic** corpus
with exact ground truth. {when}; Python {platform.python_version()}.
Reproduce: `{command}` ({len(cases)} items, {audio_s / 60:.1f} min of audio,
analysed in {elapsed:.1f} s, i.e. {audio_s / max(elapsed, 1e-9):.0f}× realtime for rhythm + key).

- *engine*: tracks rendered by our music engine (60 s, ambient styles, no
  drums) at a requested key and BPM; reference beats every 60/bpm s from 0,
  downbeats every 4 beats. Their only pulse is a soft arpeggio (no drums),
  one note per beat in every section (below 84 BPM with a few soft eighth-note
  passing notes).
- *click*: metronome clicks (accented downbeat) in 4/4 and 3/4, 40–220 BPM.
- *drums*: kick/snare/hat patterns synthesised in numpy with a bass line:
  rock, four-on-the-floor, half-time feel (reference: the tapped level, see
  below), swing (4/4), waltz (3/4), 6/8 (the reference beat is the dotted
  quarter, 2 per bar; meter not scored), and tempo ramps (beats only, no single
  reference tempo).
- *GM grooves*: 13 styles (rock, pop ballad, house, hip-hop, jazz swing,
  slow and Viennese waltz, cha-cha, jive, quickstep, folk strumming,
  orchestral, drum and bass, a piano arpeggio) played through the General-MIDI
  SoundFont (real drum-kit and instrument samples, 8 ms timing jitter); the
  reference beat is the quarter note, as dance and pop annotations use.
- *chord pads*: harmonic progressions in all 24 keys (half with drums).

Metrics: tempo Acc1 (within 4 % of the reference) and Acc2 (also ×2, ×3,
×½, ×⅓), beat and downbeat F-measure (mir_eval, ±70 ms; the first 5 s are
ignored), meter accuracy (3 vs 4), MIREX weighted key score (mir_eval).

The tempo octave is checked against the TempoCNN model trained on real
recordings (docs/analysis.md, Rhythm, step 3); with the rules alone
(`tempo_model=False`) this corpus scored tempo Acc1 0.92 (0.95 without *half*).

{md_table}

*Half* reference. Kick on 1, snare on 3 and even eighth hats at a notated
tempo T is, heard without a score, a plain backbeat (kick, snare, kick, snare)
at T/2 with sixteenth hats; nothing accents the notated quarter. The reference
is what a listener taps, decided on perceptual grounds and not from the
output (`half_time_tactus` in bench/analysis/synth.py): the kick-snare pulse
T/2, and when that is slower than 60 BPM (an inter-beat interval over 1 s,
below the usual tactus range) its eighth notes T, or its sixteenths 2T for
the slowest: 45 → 90, 55 → 110, 70–115 → T, 128–210 → T/2 (previously the
notated T was the reference, and this row's Acc1 was 0.00). It stays a
judgement call: the boundary (60 BPM) is where listeners split, so notated
100 (T/2 = 50) and 115 (57.5) could go either way. Hence the overall row also
without it. {half_note}

{engine_note} {gm_note}

{target_note}

What this does **not** prove: synthetic audio is clean, quantised and
stationary. Real recordings have expressive timing, weak or missing
percussion, tempo drift, dense mixes, modulations and modal or ambiguous
harmony; the hidden real-recording set is the measure that counts, and tempo
octave (Acc1) there depends on the perceptual prior, which this corpus does not
test fairly (its reference tempi are all "natural" quarter notes).
"""
    if not args.no_write:
        write_section(section)
        print("written to docs/benchmarks.md")


if __name__ == "__main__":
    main()
