"""Synthetic audio with exact ground truth: clicks, drum patterns and chord pads (numpy only).

Used by the analysis benchmark (bench/analysis/run.py) and the analysis tests.
Every generator returns (mono float32 signal, ground truth dict).
"""

from __future__ import annotations

import numpy as np

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
MAJOR_PROGRESSIONS = ((0, 5, 7, 0), (0, 9, 5, 7), (0, 7, 9, 5), (0, 5, 0, 7))
MINOR_PROGRESSIONS = ((0, 5, 7, 0), (0, 8, 5, 7), (0, 3, 8, 7), (0, 10, 8, 7))


def _beat_times(bpm: float, duration_s: float, end_bpm: float | None = None) -> np.ndarray:
    """Beat times from 0; with `end_bpm`, the tempo ramps linearly in BPM over the duration."""
    if end_bpm is None:
        return np.arange(0.0, duration_s - 1e-9, 60.0 / bpm)
    times, t = [], 0.0
    while t < duration_s:
        times.append(t)
        t += 60.0 / (bpm + (end_bpm - bpm) * t / duration_s)
    return np.asarray(times)


def _add(out: np.ndarray, sound: np.ndarray, t: float, sr: int, gain: float = 1.0) -> None:
    i = round(t * sr)
    if i < 0:
        sound, i = sound[-i:], 0
    if i >= len(out):
        return
    n = min(len(sound), len(out) - i)
    out[i : i + n] += gain * sound[:n]


def _kick(sr: int) -> np.ndarray:
    t = np.arange(int(0.25 * sr)) / sr
    freq = 50 + 90 * np.exp(-t * 30)
    return np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t * 14)


def _snare(sr: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.2 * sr)) / sr
    noise = rng.standard_normal(len(t)) * np.exp(-t * 25)
    tone = 0.5 * np.sin(2 * np.pi * 190 * t) * np.exp(-t * 30)
    return 0.5 * noise + tone


def _hat(sr: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.06 * sr)) / sr
    noise = np.diff(rng.standard_normal(len(t) + 1))  # tilt up
    return 0.25 * noise * np.exp(-t * 80)


def _click(sr: int, freq: float) -> np.ndarray:
    t = np.arange(int(0.03 * sr)) / sr
    return np.sin(2 * np.pi * freq * t) * np.exp(-t * 150)


def _tone(freq: float, dur: float, sr: int, partials: int = 6) -> np.ndarray:
    t = np.arange(int(dur * sr)) / sr
    sig = sum(np.sin(2 * np.pi * freq * k * t) / k**1.2 for k in range(1, partials + 1))
    env = np.minimum(1.0, t / 0.02) * np.exp(-t * 1.5) * np.minimum(1.0, (dur - t) / 0.05)
    return sig * env


def click_track(
    bpm: float, duration_s: float, sr: int = 22050, meter: int = 4
) -> tuple[np.ndarray, dict]:
    """Metronome: a high click on each downbeat, a lower one on the other beats."""
    out = np.zeros(int(duration_s * sr))
    beats = _beat_times(bpm, duration_s)
    for i, t in enumerate(beats):
        _add(out, _click(sr, 1760 if i % meter == 0 else 880), t, sr)
    return (0.5 * out).astype(np.float32), {
        "bpm": bpm, "beats": beats, "downbeats": beats[::meter], "meter": meter,
    }  # fmt: skip


def drum_pattern(
    bpm: float,
    duration_s: float,
    sr: int = 22050,
    style: str = "rock",
    seed: int = 0,
    end_bpm: float | None = None,
    bass: bool = True,
) -> tuple[np.ndarray, dict]:
    """Kick/snare/hat patterns with an optional bass line.

    style: "rock" (4/4, 8th hats), "four" (4/4 four-on-the-floor, offbeat hats),
    "waltz" (3/4), "six8" (6/8, `bpm` is the dotted-quarter beat, two per bar),
    "swing" (4/4, swung 8th ride, hats on 2 and 4), "half" (4/4 half-time:
    kick on 1, snare on 3 only, 8th hats).

    For "half", `bpm` is the notated quarter, but the reference (truth "bpm",
    "beats") is the level a listener taps, `half_time_tactus` (docs/benchmarks.md,
    "Analysis accuracy"); the notated tempo is truth "notated_bpm".
    """
    rng = np.random.default_rng(seed)
    out = np.zeros(int(duration_s * sr))
    kick, snare, hat = _kick(sr), _snare(sr, rng), _hat(sr, rng)
    beats = _beat_times(bpm, duration_s, end_bpm)
    meter = {"waltz": 3, "six8": 2}.get(style, 4)
    periods = np.diff(
        np.append(beats, beats[-1] + (beats[-1] - beats[-2] if len(beats) > 1 else 60 / bpm))
    )
    roots = (0, 5, 7, 3)
    for i, (t, p) in enumerate(zip(beats, periods, strict=True)):
        pos = i % meter
        jitter = rng.normal(0, 0.003, 3)
        if style == "six8":
            if pos == 0:
                _add(out, kick, t, sr)
            else:
                _add(out, snare, t + jitter[0], sr, 0.7)
            for k in range(3):
                _add(out, hat, t + k * p / 3 + jitter[1], sr, 1.0 if k == 0 else 0.6)
        elif style == "waltz":
            if pos == 0:
                _add(out, kick, t, sr)
            else:
                _add(out, snare, t + jitter[0], sr, 0.5)
            _add(out, hat, t + jitter[1], sr, 0.8)
        elif style == "swing":
            if pos in (0, 2):
                _add(out, kick, t, sr, 0.6)
            if pos in (1, 3):
                _add(out, hat, t, sr, 1.2)
                _add(out, snare, t + jitter[0], sr, 0.3)
            _add(out, hat, t + jitter[1], sr, 0.8)
            _add(out, hat, t + 2 * p / 3 + jitter[2], sr, 0.5)
        elif style == "four":
            _add(out, kick, t, sr)
            if pos in (1, 3):
                _add(out, snare, t + jitter[0], sr, 0.6)
            _add(out, hat, t + p / 2 + jitter[1], sr, 1.0)
        elif style == "half":
            if pos == 0:
                _add(out, kick, t, sr)
            if pos == 2:
                _add(out, snare, t + jitter[0], sr, 0.9)
            for k in range(2):
                _add(out, hat, t + k * p / 2 + jitter[1], sr, 0.7)
        else:  # rock
            if pos in (0, 2):
                _add(out, kick, t, sr)
            if pos == 2 and rng.random() < 0.3:
                _add(out, kick, t + p / 2, sr, 0.7)
            if pos in (1, 3):
                _add(out, snare, t + jitter[0], sr, 0.8)
            for k in range(2):
                _add(out, hat, t + k * p / 2 + jitter[1], sr, 0.7 if k == 0 else 0.5)
        if bass and pos == 0:
            bar = i // meter
            freq = 55.0 * 2 ** (roots[bar % 4] / 12)
            _add(out, _tone(freq, min(2.0, p * meter), sr, 3), t, sr, 0.4)
    out += 0.003 * rng.standard_normal(len(out))
    out /= max(1e-9, float(np.abs(out).max())) / 0.8
    truth = {
        "bpm": bpm if end_bpm is None else None,
        "beats": beats,
        "downbeats": beats[::meter],
        "meter": meter,
    }
    if style == "half":
        truth = _half_time_truth(bpm, beats, periods, end_bpm is None)
    return out.astype(np.float32), truth


HALF_TIME_SLOWEST_TACTUS = 60.0  # BPM; a slower backbeat is tapped at its eighth notes


def half_time_tactus(notated_bpm: float) -> float:
    """The tempo a listener taps for a half-time groove notated at `notated_bpm`.

    Kick on 1 and snare on 3 with eighth hats is, heard without a score, a plain
    backbeat (kick, snare, kick, snare) at half the notated tempo with sixteenth
    hats, and the kick-snare pulse is the tactus; when that is slower than 60 BPM
    (inter-beat interval over a second, below the usual tactus range), listeners
    subdivide and tap its eighth notes (the notated quarter), or again its
    sixteenths for the slowest grooves. Chosen on these perceptual grounds, not
    from the analysis output (docs/benchmarks.md, "Analysis accuracy").
    """
    tempo = notated_bpm / 2
    while tempo < HALF_TIME_SLOWEST_TACTUS:
        tempo *= 2
    return tempo


def _half_time_truth(bpm: float, beats: np.ndarray, periods: np.ndarray, steady: bool) -> dict:
    """Reference beats at `half_time_tactus`: every other notated beat, each one, or eighths."""
    factor = half_time_tactus(bpm) / bpm
    if factor < 1:
        tapped = beats[::2]
    elif factor == 1:
        tapped = beats
    else:
        tapped = np.sort(np.concatenate([beats, beats + periods / 2]))
    return {
        "bpm": bpm * factor if steady else None,
        "notated_bpm": bpm if steady else None,
        "beats": tapped,
        "downbeats": tapped[::4],
        "meter": 4,
    }


def chord_pad(
    key: str, mode: str, duration_s: float, sr: int = 22050, seed: int = 0, bpm: float = 90.0
) -> tuple[np.ndarray, dict]:
    """A chord progression in `key` `mode` (triads with a bass root), one chord per bar."""
    rng = np.random.default_rng(seed)
    tonic = NOTE_NAMES.index(key)
    progs = MAJOR_PROGRESSIONS if mode == "major" else MINOR_PROGRESSIONS
    prog = progs[int(rng.integers(len(progs)))]
    scale = (0, 2, 4, 5, 7, 9, 11) if mode == "major" else (0, 2, 3, 5, 7, 8, 10)
    bar = 4 * 60.0 / bpm
    out = np.zeros(int(duration_s * sr))
    t, i = 0.0, 0
    while t < duration_s:
        root = prog[i % len(prog)]
        degree = scale.index(root)
        chord = [scale[(degree + k) % 7] + 12 * ((degree + k) // 7) for k in (0, 2, 4)]
        if mode == "minor" and root == 7:
            chord[1] = 11  # harmonic-minor dominant
        base = 48 + tonic
        for pc in chord:
            freq = 440.0 * 2 ** ((base + pc - 69) / 12)
            _add(out, _tone(freq, bar, sr), t, sr, 0.3)
        bass_freq = 440.0 * 2 ** ((36 + tonic + root - 69) / 12)
        _add(out, _tone(bass_freq, bar, sr, 4), t, sr, 0.4)
        # A short melody on scale degrees.
        for k in range(4):
            pc = scale[int(rng.integers(7))]
            freq = 440.0 * 2 ** ((60 + tonic + pc - 69) / 12)
            _add(out, _tone(freq, bar / 4, sr, 4), t + k * bar / 4, sr, 0.15)
        t += bar
        i += 1
    out /= max(1e-9, float(np.abs(out).max())) / 0.8
    return out.astype(np.float32), {"key": key, "mode": mode}


# --- General-MIDI grooves rendered through a SoundFont -----------------------------

GM_KICK, GM_SNARE, GM_CLAP, GM_HAT, GM_OPEN_HAT, GM_PEDAL_HAT = 36, 38, 39, 42, 46, 44
GM_RIDE, GM_COWBELL, GM_SHAKER, GM_CONGA, GM_BRUSH, GM_TOM = 51, 56, 70, 63, 40, 47
_ROOTS = (0, 9, 5, 7)  # I vi IV V in C


def _hits(positions, bar, pitch, vel, length=0.25):
    """Drum or note hits at beat `positions` inside every `bar` beats."""
    return lambda n: [
        (bar * k + p, pitch, vel, length) for k in range(n // bar + 1) for p in positions
    ]


def _every(step, pitch, vel, offset=0.0, on_beat_accent=0):
    def notes(n):
        return [(b, pitch, vel + (on_beat_accent if b % 1 == 0 else 0), 0.25)
                for b in np.arange(offset, n, step)]  # fmt: skip

    return notes


def _bass(positions, bar=4, length=0.5, vel=88):
    return lambda n: [(bar * k + p, 36 + _ROOTS[k % 4], vel, length)
                      for k in range(n // bar + 1) for p in positions]  # fmt: skip


def _walking(vel=85):
    return lambda n: [
        (k, 36 + _ROOTS[(k // 4) % 4] + (0, 4, 7, 5)[k % 4], vel, 0.9) for k in range(n)
    ]


def _chords(positions, bar=4, vel=68, length=0.9, octave=60):
    def notes(n):
        out = []
        for k in range(n // bar + 1):
            root = _ROOTS[k % 4]
            third = 3 if root == 9 else 4
            out += [(bar * k + p, octave + root + iv, vel, length)
                    for p in positions for iv in (0, third, 7)]  # fmt: skip
        return out

    return notes


def _merge(*parts):
    return lambda n: [x for part in parts for x in part(n)]


# name -> (tempi, swing (fraction of a beat the off-beat 8th is late), {GM program or "drums": notes})
GM_GROOVES: dict[str, tuple[tuple[int, ...], float, dict]] = {
    "rock": ((90, 110, 130, 150), 0.0, {
        "drums": _merge(_hits([0, 2, 2.5], 4, GM_KICK, 110), _hits([1, 3], 4, GM_SNARE, 105),
                        _every(0.5, GM_HAT, 60, on_beat_accent=20)),
        33: _bass([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5], length=0.45), 29: _chords([0, 2], length=1.9)}),
    "pop ballad": ((66, 76), 0.0, {
        "drums": _merge(_hits([0, 2.5], 4, GM_KICK, 95), _hits([1, 3], 4, GM_SNARE, 90),
                        _every(0.25, GM_HAT, 60, on_beat_accent=15)),
        0: _merge(_chords([0], length=3.8, vel=60), _every(0.5, 72, 50)), 33: _bass([0, 2.5], length=1.4)}),
    "house": ((124, 128), 0.0, {
        "drums": _merge(_every(1, GM_KICK, 115), _hits([1, 3], 4, GM_CLAP, 90),
                        _every(1, GM_OPEN_HAT, 70, offset=0.5), _every(0.25, GM_HAT, 45)),
        38: _bass([0.5, 1.5, 2.5, 3.5], length=0.3), 81: _chords([0, 1.5, 3], vel=55, length=0.4)}),
    "hip-hop": ((88, 95), 0.08, {
        "drums": _merge(_hits([0, 1.75, 2.5], 4, GM_KICK, 115), _hits([1, 3], 4, GM_SNARE, 110),
                        _every(0.5, GM_HAT, 70)),
        38: _bass([0, 1.75, 2.5], length=0.7), 4: _chords([0], length=3.5, vel=55)}),
    "jazz swing": ((120, 160, 200), 0.16, {
        "drums": _merge(_every(1, GM_RIDE, 85), _hits([1.5, 3.5], 4, GM_RIDE, 70),
                        _hits([1, 3], 4, GM_PEDAL_HAT, 75)),
        32: _walking(), 0: _chords([1.5, 3], length=0.3, vel=60, octave=55)}),
    "waltz": ((87, 175), 0.0, {
        "drums": _merge(_hits([0], 3, GM_KICK, 90), _hits([1, 2], 3, GM_BRUSH, 60)),
        32: _bass([0], bar=3, length=0.9), 0: _chords([1, 2], bar=3, length=0.6, vel=65)}),
    "cha-cha": ((120,), 0.0, {
        "drums": _merge(_hits([0, 2], 4, GM_KICK, 100), _every(1, GM_COWBELL, 80),
                        _hits([3, 3.5], 4, GM_CONGA, 90), _every(0.5, GM_SHAKER, 55)),
        32: _bass([0, 1.5, 3], length=0.5), 0: _chords([0.5, 1.5, 2.5, 3.5], length=0.3, vel=60)}),
    "jive": ((172,), 0.16, {
        "drums": _merge(_hits([0, 2], 4, GM_KICK, 100), _hits([1, 3], 4, GM_SNARE, 105),
                        _every(1, GM_RIDE, 75), _hits([0.5, 1.5, 2.5, 3.5], 4, GM_RIDE, 55)),
        32: _walking(), 0: _chords([1, 3], length=0.3, vel=65)}),
    "quickstep": ((200,), 0.0, {
        "drums": _merge(_hits([0, 2], 4, GM_KICK, 95), _hits([1, 3], 4, GM_BRUSH, 90)),
        32: _bass([0, 2], length=0.9), 0: _chords([1, 3], length=0.4, vel=70)}),
    "folk strum": ((100, 120), 0.0, {
        25: _merge(_chords([0, 1, 2, 3], length=0.4, vel=85, octave=52),
                   _chords([0.5, 1.5, 2.5, 3.5], length=0.3, vel=55, octave=55)),
        32: _bass([0, 2], length=0.9, vel=80)}),
    "orchestral": ((80,), 0.0, {
        48: _chords([0], length=3.9, vel=70), 45: _bass([0, 1, 2, 3], length=0.5, vel=90),
        73: _hits([0, 1, 1.5, 2, 3], 8, 79, 70, length=0.5), "drums": _hits([0], 4, GM_TOM, 80)}),
    "drum and bass": ((174,), 0.0, {
        "drums": _merge(_hits([0, 2.5], 4, GM_KICK, 115), _hits([1, 3], 4, GM_SNARE, 110),
                        _every(0.5, GM_HAT, 70)),
        38: _bass([0, 2.5], length=1.2)}),
    "piano arpeggio": ((70,), 0.0, {
        0: _merge(_chords([0], length=3.9, vel=55, octave=48), _every(0.5, 72, 55, on_beat_accent=10))}),
}  # fmt: skip


def gm_groove(
    name: str, bpm: float, duration_s: float, soundfont: str, sr: int = 22050, seed: int = 0
) -> tuple[np.ndarray, dict]:
    """A genre groove from GM_GROOVES played through a General-MIDI SoundFont (tinysoundfont).

    Real drum-kit and instrument samples, 8 ms timing jitter and velocity spread;
    the reference beat is the quarter note (dotted rhythms are not used), which is
    the level dance and pop annotations use for these styles.
    """
    import tinysoundfont

    _, swing, parts = GM_GROOVES[name]
    rng = np.random.default_rng(seed)
    synth = tinysoundfont.Synth(samplerate=sr, gain=-8)
    sfid = synth.sfload(str(soundfont))
    n_beats = int(duration_s * bpm / 60) + 1
    beat = 60.0 / bpm
    events = []
    for i, (program, notes) in enumerate(parts.items()):
        if program == "drums":
            chan = 9
            synth.program_select(chan, sfid, 128, 0, True)
        else:
            chan = i if i < 9 else i + 1
            synth.program_select(chan, sfid, 0, program)
        for pos, pitch, vel, length in notes(n_beats):
            t = pos * beat + (swing * beat if abs(pos % 1 - 0.5) < 1e-6 else 0.0)
            t += rng.normal(0, 0.008)
            if 0 <= t < duration_s:
                v = int(np.clip(vel + rng.normal(0, 6), 10, 127))
                events += [
                    (t, 1, chan, pitch, v),
                    (t + max(0.05, length * beat), 0, chan, pitch, 0),
                ]
    events.sort(key=lambda e: (e[0], e[1]))
    chunks, now = [], 0
    for t, on, chan, pitch, vel in [*events, (duration_s, -1, 0, 0, 0)]:
        n = int(t * sr) - now
        if n > 0:
            chunks.append(np.frombuffer(synth.generate(n), np.float32).reshape(-1, 2))
            now += n
        if on == 1:
            synth.noteon(chan, pitch, vel)
        elif on == 0:
            synth.noteoff(chan, pitch)
    y = np.concatenate(chunks).mean(axis=1)
    y = y / max(1e-9, float(np.abs(y).max())) * 0.8
    beats = np.arange(0.0, duration_s - 1e-9, beat)
    meter = 3 if name == "waltz" else 4
    return y.astype(np.float32), {"bpm": float(bpm), "beats": beats, "downbeats": beats[::meter],
                                  "meter": meter}  # fmt: skip
