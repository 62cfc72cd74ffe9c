"""Song form: section boundaries and labels, and beat-aligned video sections.

1. Units are bars (from the downbeats); per bar, four views: timbre (MFCC
   1–12), energy (log band energies, loudness, onset flux), loudness and
   harmony (chroma). Songs with more than `MAX_UNITS` bars are grouped in runs
   of bars.
2. Each view's self-similarity matrix (features scaled by their bar-to-bar
   jitter, so steady features that change at a few places count most) gives a
   Foote novelty curve (checkerboard kernel along the diagonal, Foote 2000);
   the matrices' weighted mean is a kernel for change-point detection.
3. Boundaries minimise the kernel change-point cost (Harchaoui & Cappé 2007:
   the within-section scatter of the bars in the kernel's feature space) plus
   a penalty per boundary that is lower where the novelty is high, by dynamic
   programming, with sections at least `MIN_SECTION_S` long.
4. All boundaries move by the same whole number of beats (usually none) when
   the sharpest beat-to-beat changes sit off the bar lines: a downbeat phase
   that is a beat or two off.
5. Labels: average-linkage clustering of the segments on their block-mean
   similarity; clusters are lettered A, B, C... by first appearance, then
   named by the rule in docs/analysis.md ("Structure").
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from soundstage.media.analysis.features import EPS, Features
from soundstage.media.analysis.result import Rhythm, Section

MAX_UNITS = 1200
NOVELTY_HALVES = (4, 8)  # checkerboard kernel half-sizes, in units (bars)
VIEW_WEIGHTS = {"timbre": 1.0, "energy": 1.0, "loudness": 1.0, "harmony": 0.25}
JITTER_FLOOR = 0.25  # a feature's noise is at least this share of its spread over the song
LOUDNESS_RANGE_DB = 80.0  # loudness floor below the song's loudest frame (silence)
BOUNDARY_PENALTY = 3.0  # per boundary, in units of the song's scatter per bar
NOVELTY_DISCOUNT = 2.0  # penalty reduction at full novelty
FULL_NOVELTY = 0.25  # novelty contrast (similarity units) that earns the full discount
MIN_SECTION_S = 6.0
PHASE_MAX_BEATS = 2  # the bar grid may be off by up to this many beats either way
PHASE_MIN_EDGES = 3  # boundaries needed to judge the bar grid's phase
SAME_CLUSTER_DISTANCE = 0.45  # 1 - block-mean cosine similarity
SUGGESTED_MIN_S = 10.0
SUGGESTED_MAX_S = 60.0
ENERGY_BANDS_HZ = ((0, 150), (150, 400), (400, 1000), (1000, 3000), (3000, 11025))


def beat_grid(rhythm: Rhythm, duration: float) -> np.ndarray:
    """The beats to work on: the rhythm's, or a 0.5 s grid when there is no pulse."""
    beats = np.asarray([b for b in rhythm.beats if 0.0 <= b < duration], dtype=float)
    if len(beats) < 8:
        beats = np.arange(0.0, duration, 0.5)
    return beats


def unit_grid(rhythm: Rhythm, duration: float) -> np.ndarray:
    """Unit start times: bars (from the downbeats), else groups of 4 beats, else 2 s.

    Sections start on bar lines, so boundaries are chosen among unit starts (then
    all moved by the same number of beats if `beat_phase_shift` says so). A
    pickup before the first downbeat is a unit of its own. Songs with more than
    `MAX_UNITS` bars are grouped in runs of bars.
    """
    beats = beat_grid(rhythm, duration)
    downbeats = np.asarray([d for d in rhythm.downbeats if 0.0 <= d < duration], dtype=float)
    units = downbeats if len(downbeats) >= 8 and len(beats) >= 8 else beats[::4]
    units = np.unique(np.concatenate([[0.0], units]))
    if len(units) > 1 and units[1] - units[0] < 0.25 * float(np.median(np.diff(units))):
        units = np.delete(units, 1)  # a sliver before the first bar line joins it
    group = max(1, math.ceil(len(units) / MAX_UNITS))
    return units[::group]


def unit_features(feat: Features, unit_starts: np.ndarray) -> np.ndarray:
    """(units, 24) L2-normalised rows: chroma means ‖ z-scored MFCC 1–12 means."""
    idx, counts = _frame_index(feat, unit_starts)
    chroma = np.add.reduceat(feat.chroma, idx, axis=1) / counts
    mf = feat.mfcc[1:13]
    mf = (mf - mf.mean(axis=1, keepdims=True)) / (mf.std(axis=1, keepdims=True) + EPS)
    mfcc = np.add.reduceat(mf, idx, axis=1) / counts
    chroma = chroma / (np.linalg.norm(chroma, axis=0, keepdims=True) + EPS)
    mfcc = mfcc / (np.linalg.norm(mfcc, axis=0, keepdims=True) + EPS)
    x = np.concatenate([chroma, mfcc], axis=0).T
    return x / (np.linalg.norm(x, axis=1, keepdims=True) + EPS)


def frame_views(feat: Features) -> dict[str, np.ndarray]:
    """Per-frame rows (features × frames) of the four views: timbre (MFCC 1–12),
    energy (log band energies, loudness, onset flux), loudness (RMS in dB) and
    harmony (chroma)."""
    loudness = 20.0 * np.log10(feat.rms + EPS)
    loudness = np.maximum(loudness, loudness.max() - LOUDNESS_RANGE_DB)
    bands = [
        10.0 * np.log10(feat.mel[feat.band(lo, hi)].sum(axis=0) + EPS) for lo, hi in ENERGY_BANDS_HZ
    ]
    return {
        "timbre": feat.mfcc[1:13],
        "energy": np.stack([*bands, loudness, feat.onset_env]),
        "loudness": loudness[None],
        "harmony": feat.chroma,
    }


def view_features(
    feat: Features, unit_starts: np.ndarray, frames: dict[str, np.ndarray] | None = None
) -> dict[str, np.ndarray]:
    """Per-unit means of the views (`frame_views`; chroma L2-normalised); rows are units."""
    frames = frame_views(feat) if frames is None else frames
    idx, counts = _frame_index(feat, unit_starts)
    views = {name: (np.add.reduceat(x, idx, axis=1) / counts).T for name, x in frames.items()}
    if "harmony" in views:
        chroma = views["harmony"]
        views["harmony"] = chroma / (np.linalg.norm(chroma, axis=1, keepdims=True) + EPS)
    return views


def view_similarity(x: np.ndarray, cosine: bool = False) -> np.ndarray:
    """Self-similarity: cosine, or a Gaussian of the distance between rows scaled by
    each feature's unit-to-unit jitter (bandwidth: the median squared distance).

    The jitter (a robust estimate of how much a feature moves between neighbouring
    units, at least `JITTER_FLOOR` of its spread over the song) is its noise within
    a section: a feature that changes at a few places and holds still in between
    (loudness, a layer's band) weighs more than one that moves with every chord
    (the bass band under a moving bass line).
    """
    if cosine:
        return x @ x.T
    spread = x.std(axis=0)
    if len(x) < 3:  # too few neighbours to estimate the jitter
        jitter = spread
    else:
        jitter = 1.4826 / math.sqrt(2.0) * np.median(np.abs(np.diff(x, axis=0)), axis=0)
    z = (x - x.mean(axis=0)) / (np.maximum(jitter, JITTER_FLOOR * spread) + 1e-6)
    sq = (z * z).sum(axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (z @ z.T), 0.0) / z.shape[1]
    return np.exp(-d2 / (float(np.median(d2)) + EPS))


def novelty(ssm: np.ndarray, half: int) -> np.ndarray:
    """Foote novelty: Gaussian checkerboard kernel correlated along the diagonal.

    The kernel's weights sum to 1 in absolute value, so the novelty is a contrast in
    similarity units: the (tapered) mean similarity within each side minus across.
    """
    n = len(ssm)
    half = max(1, min(half, n // 2))
    ax = np.arange(-half, half) + 0.5
    g = np.exp(-0.5 * (ax / (0.5 * half)) ** 2)
    kernel = np.outer(g, g) * np.sign(np.outer(ax, ax))
    kernel /= np.abs(kernel).sum()
    padded = np.pad(ssm, half, mode="reflect" if n > half else "constant")
    out = np.empty(n)
    for i in range(n):
        out[i] = (padded[i : i + 2 * half, i : i + 2 * half] * kernel).sum()
    return np.maximum(out, 0.0)


def view_ssms(views: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each view's self-similarity matrix (cosine for harmony, Gaussian otherwise)."""
    return {name: view_similarity(views[name], cosine=name == "harmony") for name in VIEW_WEIGHTS}


def combined_novelty(ssms: dict[str, np.ndarray]) -> np.ndarray:
    """Weighted mean over views and kernel sizes of the novelty, divided by
    `FULL_NOVELTY` and clipped to 1. Not normalised per song: a song without
    changes (a loop, a steady texture) keeps a low novelty everywhere."""
    n = len(next(iter(ssms.values())))
    total = np.zeros(n)
    for name, weight in VIEW_WEIGHTS.items():
        for half in NOVELTY_HALVES:
            total += weight * novelty(ssms[name], half)
    total /= sum(VIEW_WEIGHTS.values()) * len(NOVELTY_HALVES)
    return np.minimum(total / FULL_NOVELTY, 1.0)


def view_kernel(ssms: dict[str, np.ndarray]) -> np.ndarray:
    """Weighted mean of the views' self-similarity matrices (a positive kernel)."""
    total = sum(VIEW_WEIGHTS.values())
    return sum(w * ssms[name] for name, w in VIEW_WEIGHTS.items()) / total


def segment_units(kernel: np.ndarray, nov: np.ndarray, min_len: int) -> list[int]:
    """Boundary units minimising Σ section scatter + Σ boundary penalty.

    A section's scatter is Σ k(i, i) − Σ k(i, j) / length over its units: how far
    its bars lie from their mean in the kernel's feature space (kernel change-point
    detection, Harchaoui & Cappé 2007). It sees a lasting change of the mix even
    when the local novelty is small; the novelty lowers the penalty where a change
    is sharp, which also keeps short intros that barely reduce the scatter. The
    penalty is scaled by the song's own scatter per unit, so it does not depend on
    the features' units or the song's length. Sections are at least `min_len` units
    (the first and last may be shorter).
    """
    n = len(kernel)
    cum = np.zeros((n + 1, n + 1))
    cum[1:, 1:] = kernel.cumsum(axis=0).cumsum(axis=1)
    diag = np.concatenate([[0.0], np.cumsum(np.diag(kernel))])
    scale = max(diag[n] - cum[n, n] / n, EPS) / n
    penalty = np.append((BOUNDARY_PENALTY - NOVELTY_DISCOUNT * nov) * scale, 0.0)
    best = np.full(n + 1, np.inf)
    best[0] = 0.0
    back = np.zeros(n + 1, dtype=int)
    for j in range(1, n + 1):
        i = np.arange(j)
        i = i[(j - i >= min_len) | (i == 0) | (j == n)]
        block = cum[j, j] - cum[i, j] - cum[j, i] + cum[i, i]
        cand = best[i] + (diag[j] - diag[i]) - block / (j - i)
        k = int(np.argmin(cand))
        best[j], back[j] = cand[k] + penalty[j], int(i[k])
    cuts, j = [], n
    while j > 0:
        j = back[j]
        if j > 0:
            cuts.append(j)
    return sorted(cuts)


def beat_phase_shift(beat_rows: np.ndarray, edge_beats: np.ndarray) -> int:
    """Beats by which to move every boundary so that boundaries sit on the sharpest changes.

    `beat_rows` are per-beat features (beats × features), `edge_beats` the beat index
    of each inner boundary (a bar line, and the downbeats may be a beat or two off).
    Per boundary, the change into each beat within `PHASE_MAX_BEATS` of it (distance
    between the z-scored rows of that beat and the one before), scaled to that
    boundary's largest; the offset with the largest mean over the boundaries wins if
    it beats the bar line itself. One shift for the song: a wrong phase is wrong
    everywhere, and one boundary alone is unreliable (after a layer stops, its release
    tail makes the next beat look like a change too). No shift with fewer than
    `PHASE_MIN_EDGES` boundaries.
    """
    n = len(beat_rows)
    if len(edge_beats) < PHASE_MIN_EDGES or n < 8:
        return 0
    z = (beat_rows - beat_rows.mean(axis=0)) / (beat_rows.std(axis=0) + 1e-6)
    change = np.zeros(n)
    change[1:] = np.linalg.norm(np.diff(z, axis=0), axis=1)  # into beat j from beat j - 1
    offsets = np.arange(-PHASE_MAX_BEATS, PHASE_MAX_BEATS + 1)
    at = np.asarray(edge_beats)[:, None] + offsets[None, :]
    profile = np.where((at > 0) & (at < n), change[np.clip(at, 0, n - 1)], 0.0)
    profile = (profile / (profile.max(axis=1, keepdims=True) + EPS)).mean(axis=0)
    best = int(np.argmax(profile))
    return int(offsets[best]) if profile[best] > profile[PHASE_MAX_BEATS] else 0


def _phase_corrected(
    feat: Features, frames: dict[str, np.ndarray], beats: np.ndarray, edges: list[float]
) -> list[float]:
    """The edges moved by `beat_phase_shift` beats (timbre and energy per beat)."""
    grid = np.unique(np.concatenate([[0.0], beats]))
    at = _nearest(grid, edges[1:-1])
    rows = view_features(feat, grid, {name: frames[name] for name in ("timbre", "energy")})
    shift = beat_phase_shift(np.concatenate(list(rows.values()), axis=1), at)
    if not shift:
        return edges
    moved = [float(grid[i]) for i in np.clip(at + shift, 1, len(grid) - 1)]
    return _dedupe([edges[0], *moved, edges[-1]], MIN_SECTION_S / 2)


def detect_sections(feat: Features, rhythm: Rhythm, duration: float) -> list[Section]:
    """Labelled sections tiling [0, duration]."""
    if duration <= 0:
        return []
    beats = beat_grid(rhythm, duration)
    if len(beats) < 4 or feat.rms.max() < 1e-5:
        return [Section(0.0, round(duration, 3), "A")]
    units = unit_grid(rhythm, duration)
    if len(units) < 4:
        return [Section(0.0, round(duration, 3), "A")]
    unit_s = float(np.median(np.diff(units)))
    frames = frame_views(feat)
    ssms = view_ssms(view_features(feat, units, frames))
    nov = combined_novelty(ssms)
    cuts = segment_units(view_kernel(ssms), nov, max(2, round(MIN_SECTION_S / unit_s)))
    edges = (
        [0.0]
        + [
            float(units[c])
            for c in cuts
            if MIN_SECTION_S / 2 < units[c] < duration - MIN_SECTION_S / 2
        ]
        + [duration]
    )
    edges = _dedupe(edges, MIN_SECTION_S / 2)
    edges = _phase_corrected(feat, frames, beats, edges)
    x = unit_features(feat, units)
    ssm = x @ x.T
    unit_edges = [int(np.searchsorted(units, e - 1e-6)) for e in edges]
    labels = _cluster(ssm, unit_edges)
    keep = [0] + [i for i in range(1, len(labels)) if labels[i] != labels[i - 1]]
    edges = [edges[i] for i in keep] + [edges[-1]]  # adjacent look-alikes are one section
    labels = [labels[i] for i in keep]
    energy = _segment_energy(feat, edges)
    names = name_sections(labels, energy, edges)
    return [
        Section(round(a, 3), round(b, 3), lab)
        for a, b, lab in zip(edges[:-1], edges[1:], names, strict=True)
    ]


def _frame_index(feat: Features, unit_starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = feat.n_frames
    idx = np.clip(np.round(unit_starts * feat.frame_rate).astype(int), 0, n - 1)
    idx[0] = 0
    idx = np.maximum.accumulate(idx)
    counts = np.diff(np.append(idx, n)).clip(min=1)
    return idx, counts


def _nearest(grid: np.ndarray, times: list[float]) -> np.ndarray:
    """Index of the grid point nearest to each time (grid sorted)."""
    i = np.clip(np.searchsorted(grid, times), 1, len(grid) - 1)
    return i - (np.asarray(times) - grid[i - 1] < grid[i] - np.asarray(times))


def _dedupe(edges: list[float], min_gap: float) -> list[float]:
    out = [edges[0]]
    for e in edges[1:-1]:
        if e - out[-1] >= min_gap:
            out.append(e)
    if edges[-1] - out[-1] < min_gap and len(out) > 1:
        out.pop()
    out.append(edges[-1])
    return out


def _cluster(ssm: np.ndarray, unit_edges: list[int]) -> list[int]:
    """Cluster ids (0, 1, ... by first appearance) of the segments."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    k = len(unit_edges) - 1
    if k <= 1:
        return [0] * k
    spans = [(a, max(b, a + 1)) for a, b in itertools.pairwise(unit_edges)]
    dist = np.zeros((k, k))
    for i, (a0, a1) in enumerate(spans):
        for j, (b0, b1) in enumerate(spans):
            if i < j:
                sim = float(ssm[a0:a1, b0:b1].mean())
                dist[i, j] = dist[j, i] = max(0.0, 1.0 - sim)
    raw = fcluster(
        linkage(squareform(dist, checks=False), "average"), SAME_CLUSTER_DISTANCE, "distance"
    )
    order: dict[int, int] = {}
    return [order.setdefault(int(c), len(order)) for c in raw]


def _segment_energy(feat: Features, edges: list[float]) -> list[float]:
    rms_db = 20.0 * np.log10(feat.rms + EPS)
    out = []
    for a, b in itertools.pairwise(edges):
        i0 = int(a * feat.frame_rate)
        i1 = max(i0 + 1, int(b * feat.frame_rate))
        out.append(float(np.mean(rms_db[i0:i1])) if i0 < len(rms_db) else -100.0)
    return out


def name_sections(clusters: list[int], energy: list[float], edges: list[float]) -> list[str]:
    """Letters by cluster, then intro/outro, chorus, verse and bridge names (see docs)."""
    letters = [chr(ord("A") + c) if c < 26 else f"S{c}" for c in clusters]
    n = len(clusters)
    if n < 3:
        return letters
    names = list(letters)
    dur = [b - a for a, b in itertools.pairwise(edges)]
    med_e = float(np.median(energy))
    total = edges[-1] - edges[0]
    short = min(25.0, 0.2 * total)
    if dur[0] <= short and energy[0] < med_e:
        names[0] = "intro"
    if dur[-1] <= short and energy[-1] < med_e:
        names[-1] = "outro"
    body = [i for i in range(n) if names[i] not in ("intro", "outro")]
    counts: dict[int, list[int]] = {}
    for i in body:
        counts.setdefault(clusters[i], []).append(i)
    repeated = {c: idx for c, idx in counts.items() if len(idx) >= 2}
    if not repeated:
        return names
    mean_e = {c: float(np.mean([energy[i] for i in idx])) for c, idx in repeated.items()}
    chorus = max(repeated, key=lambda c: (mean_e[c], len(repeated[c])))
    rest = [c for c in repeated if c != chorus]
    verse = max(rest, key=lambda c: (len(repeated[c]), -repeated[c][0])) if rest else None
    first_chorus = repeated[chorus][0]
    for i in body:
        c = clusters[i]
        if c == chorus:
            names[i] = "chorus"
        elif c == verse:
            names[i] = "verse"
        elif len(counts[c]) == 1 and first_chorus < i < body[-1]:
            names[i] = "bridge"
    return names


def suggested_sections(
    sections: list[Section], beats: list[float], duration: float
) -> list[Section]:
    """Sections of 10–60 s tiling [0, duration], inner boundaries on beats.

    Starts from the structure's boundaries, merges any section shorter than
    10 s into its shorter neighbour, then splits sections longer than 60 s
    into equal parts (at most 50 s) whose cuts are moved to the nearest beat.
    A song shorter than 10 s is one (shorter) section.
    """
    if duration <= 0:
        return []
    labels = sections or [Section(0.0, duration, "A")]
    grid = np.asarray(sorted(b for b in beats if 0.0 < b < duration), dtype=float)
    inner = [s.start for s in labels[1:] if 0.0 < s.start < duration]
    if len(grid):  # structure boundaries are beats already; others are moved to one
        inner = [float(grid[np.argmin(np.abs(grid - t))]) for t in inner]
    edges = [0.0, *sorted(set(inner) - {0.0}), duration]
    while len(edges) > 2:
        lens = np.diff(edges)
        i = int(np.argmin(lens))
        if lens[i] >= SUGGESTED_MIN_S:
            break
        if i == 0:
            edges.pop(1)
        elif i == len(lens) - 1:
            edges.pop(-2)
        else:  # drop the boundary shared with the shorter neighbour
            edges.pop(i if lens[i - 1] <= lens[i + 1] else i + 1)
    out_edges = [edges[0]]
    for a, b in itertools.pairwise(edges):
        if b - a > SUGGESTED_MAX_S:
            k = math.ceil((b - a) / 50.0)
            for j in range(1, k):
                t = a + (b - a) * j / k
                if len(grid):
                    t = float(grid[np.argmin(np.abs(grid - t))])
                out_edges.append(t)
        out_edges.append(b)
    out_edges[-1] = duration
    out = []
    for a, b in itertools.pairwise(out_edges):
        mid = 0.5 * (a + b)
        label = next((s.label for s in labels if s.start <= mid < s.end), labels[-1].label)
        out.append(Section(round(a, 3), round(b, 3), label))
    return out
