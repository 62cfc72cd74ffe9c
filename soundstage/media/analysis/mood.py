"""Mood and genre from a transparent rule model (not a trained classifier).

Every mood score and genre score is a short documented formula over the
descriptors and signal statistics (docs/analysis.md, "Descriptors, mood and
genre"). Genre probabilities are a softmax of the genre scores. These are
heuristics: useful as defaults and prompts, not ground truth.
"""

from __future__ import annotations

import math

from soundstage.media.analysis.descriptors import clamp01, ramp
from soundstage.media.analysis.result import KeyEstimate

MOODS = ("calm", "happy", "sad", "energetic", "dark", "dreamy", "tense", "romantic")
GENRES = (
    "ambient",
    "classical",
    "electronic",
    "rock",
    "pop",
    "hip-hop",
    "jazz",
    "folk",
    "metal",
    "latin",
)
MOOD_TAG_THRESHOLD = 0.35
GENRE_TEMPERATURE = 0.12


def mood_scores(
    desc: dict[str, float], stats: dict[str, float], key: KeyEstimate
) -> dict[str, float]:
    """Mood vector, each 0..1."""
    e, v = desc["energy"], desc["valence"]
    fast = ramp(stats["bpm"], 80.0, 140.0) if stats["bpm"] > 0 else 0.0
    bright = ramp(stats["centroid_hz"], 500.0, 3500.0)
    minor = clamp01(key.confidence) if key.mode == "minor" else 0.0
    major = clamp01(key.confidence) if key.mode == "major" else 0.0
    soft = 1.0 - ramp(1.0 - stats["harmonic_ratio"], 0.1, 0.6)  # little percussion
    scores = {
        "calm": (1.0 - e) * (0.6 + 0.4 * (1.0 - fast)),
        "happy": v * (0.4 + 0.6 * e) * (0.7 + 0.3 * major),
        "sad": (1.0 - v) * (1.0 - e) * (0.7 + 0.3 * minor),
        "energetic": e * (0.5 + 0.5 * fast),
        "dark": (1.0 - v) * (1.0 - bright) * (0.6 + 0.4 * minor),
        "dreamy": (1.0 - e) * soft * (0.6 + 0.4 * desc["acousticness"]) * (0.5 + 0.5 * v),
        "tense": e * (1.0 - v) * (0.6 + 0.4 * minor),
        "romantic": (1.0 - abs(v - 0.6) * 1.5) * (1.0 - e) * (0.6 + 0.4 * major),
    }
    if stats["active_fraction"] < 0.02:
        return dict.fromkeys(MOODS, 0.0)
    return {k: round(clamp01(scores[k]), 4) for k in MOODS}


def mood_summary(vector: dict[str, float]) -> tuple[str, list[str], float]:
    """(primary, tags, confidence): tags are the top 3 above the threshold."""
    ranked = sorted(vector.items(), key=lambda kv: -kv[1])
    primary, top = ranked[0]
    second = ranked[1][1]
    tags = [name for name, score in ranked[:3] if score >= MOOD_TAG_THRESHOLD] or [primary]
    if top <= 0.0:
        return "calm", ["calm"], 0.0
    confidence = clamp01(0.5 * top + 2.0 * (top - second))
    return primary, tags, round(confidence, 4)


def genre_scores(
    desc: dict[str, float], stats: dict[str, float], key: KeyEstimate
) -> dict[str, float]:
    """Raw genre scores (roughly 0..1 each) before the softmax."""
    bpm = stats["bpm"]

    def near(target: float, width_oct: float = 0.25) -> float:
        if bpm <= 0:
            return 0.0
        return math.exp(-0.5 * (math.log2(bpm / target) / width_oct) ** 2)

    e, a, d = desc["energy"], desc["acousticness"], desc["danceability"]
    perc = ramp(1.0 - stats["harmonic_ratio"], 0.1, 0.6)
    pulse = ramp(stats["pulse_clarity"], 0.1, 0.6)
    dist = ramp(stats["flatness_loud"], 0.02, 0.25) * ramp(e, 0.5, 0.9)  # distortion proxy
    vocal = stats["vocal_fraction"]
    speech = desc["speechiness"]
    major = 1.0 if key.mode == "major" else 0.0
    bright = ramp(stats["centroid_hz"], 500.0, 3500.0)
    dyn = ramp(stats["dynamic_range_db"], 10.0, 30.0)
    return {
        "ambient": 0.4 * (1 - e) + 0.3 * (1 - pulse) + 0.3 * (1 - perc),
        "classical": 0.35 * a + 0.25 * (1 - perc) + 0.2 * dyn + 0.2 * (1 - vocal),
        "electronic": 0.3 * pulse
        + 0.25 * stats["beat_regularity"]
        + 0.25 * max(near(124), near(170, 0.1))
        + 0.2 * (1 - a),
        "rock": 0.35 * dist + 0.25 * perc + 0.2 * e + 0.2 * near(125, 0.35),
        "pop": 0.3 * d + 0.25 * vocal + 0.2 * major + 0.25 * near(110, 0.3),
        "hip-hop": 0.3 * near(90, 0.15) + 0.3 * perc + 0.2 * speech * 2 + 0.2 * vocal,
        "jazz": 0.4 * stats["swing"]
        + 0.3 * stats["chroma_entropy"] * a
        + 0.3 * (1 - dist) * (1 - pulse * 0.5) * 0.5,
        "folk": 0.35 * a + 0.25 * vocal + 0.2 * (1 - perc) + 0.2 * near(100, 0.3),
        "metal": 0.5 * dist * e
        + 0.25 * (1 - major) * e
        + 0.25 * max(near(160, 0.2), near(200, 0.2)) * bright,
        "latin": 0.35 * d + 0.25 * near(100, 0.15) + 0.2 * perc + 0.2 * major * bright,
    }


def genre_probabilities(
    scores: dict[str, float], *, temperature: float = GENRE_TEMPERATURE
) -> dict[str, float]:
    """Softmax of the scores with a fixed temperature (probabilities sum to 1)."""
    m = max(scores.values())
    weights = {k: math.exp((s - m) / temperature) for k, s in scores.items()}
    total = sum(weights.values())
    return {k: round(w / total, 4) for k, w in weights.items()}
