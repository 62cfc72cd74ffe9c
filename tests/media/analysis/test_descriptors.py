"""Descriptors, mood, genre and vocal detection on synthetic signals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from analysis_signals import SR, click_track, noise, rock_like, sine_pad, speech_like

pytest.importorskip("soundstage.media.analysis.rhythm")
pytest.importorskip("soundstage.media.analysis.key")

import itertools

from soundstage.media.analysis.analyze import analyze_signal
from soundstage.media.analysis.descriptors import DESCRIPTOR_NAMES
from soundstage.media.analysis.features import compute_features, energy_curve
from soundstage.media.analysis.mood import GENRES, MOODS
from soundstage.media.analysis.vocals import detect_vocals


@pytest.fixture(scope="module")
def results():
    signals = {
        "silence": np.zeros(SR * 10, np.float32),
        "click": click_track(20),
        "pad": sine_pad(20),
        "rock": rock_like(20),
        "speech": speech_like(20),
        "noise": noise(15),
    }
    return {name: analyze_signal(y, SR) for name, y in signals.items()}


def test_every_descriptor_is_in_range(results):
    for name, r in results.items():
        assert set(r.descriptors) == set(DESCRIPTOR_NAMES), name
        for key, value in r.descriptors.items():
            assert 0.0 <= value <= 1.0, (name, key, value)
            assert math.isfinite(value)


def test_silence_is_quiet_and_flagged(results):
    r = results["silence"]
    assert r.descriptors["energy"] == 0.0
    assert r.descriptors["danceability"] == 0.0
    assert r.descriptors["instrumentalness"] == 1.0
    assert r.mood_confidence == 0.0
    assert any("silent" in w for w in r.warnings)
    assert r.vocal_regions == []


def test_descriptor_ordering(results):
    d = {name: r.descriptors for name, r in results.items()}
    assert d["click"]["danceability"] > d["pad"]["danceability"] + 0.3
    assert d["rock"]["danceability"] > d["pad"]["danceability"] + 0.3
    assert d["rock"]["energy"] > d["pad"]["energy"] + 0.2
    assert d["noise"]["energy"] > d["pad"]["energy"]
    for music in ("click", "pad", "rock"):
        assert d["speech"]["speechiness"] > d[music]["speechiness"] + 0.2
        assert d[music]["instrumentalness"] > d["speech"]["instrumentalness"]
    assert d["pad"]["acousticness"] > d["rock"]["acousticness"] + 0.2
    assert d["pad"]["acousticness"] > d["noise"]["acousticness"] + 0.2


def test_mood_and_genre_are_distributions(results):
    for name, r in results.items():
        assert set(r.mood_vector) == set(MOODS)
        assert r.mood_primary in MOODS
        assert r.mood_tags and r.mood_tags[0] == r.mood_primary and len(r.mood_tags) <= 3
        assert 0.0 <= r.mood_confidence <= 1.0
        assert set(r.genre_probabilities) == set(GENRES)
        assert abs(sum(r.genre_probabilities.values()) - 1.0) < 1e-3, name
        assert r.genre == max(r.genre_probabilities, key=r.genre_probabilities.get)


def test_mood_and_genre_follow_the_rules(results):
    pad, rock = results["pad"], results["rock"]
    assert pad.mood_vector["calm"] > rock.mood_vector["calm"]
    assert rock.mood_vector["energetic"] > pad.mood_vector["energetic"]
    assert pad.genre_probabilities["ambient"] > rock.genre_probabilities["ambient"]
    assert rock.genre_probabilities["ambient"] < 0.2


def test_speech_like_signal_has_vocals_and_music_has_few():
    speech = compute_features(speech_like(20, seed=4))
    covered = sum(b - a for a, b in detect_vocals(speech)) / speech.duration_s
    assert covered > 0.25
    for y in (click_track(15), sine_pad(15), rock_like(15)):
        feat = compute_features(y)
        assert sum(b - a for a, b in detect_vocals(feat)) / feat.duration_s < 0.1


def test_vocal_regions_are_sorted_and_disjoint(results):
    regions = results["speech"].vocal_regions
    assert regions
    for a, b in regions:
        assert 0.0 <= a < b <= results["speech"].duration_s
    for (_, e), (s, _) in itertools.pairwise(regions):
        assert e <= s


def test_energy_curve_length_and_range():
    y = np.concatenate([np.zeros(SR * 2), 0.5 * np.ones(SR * 3)]).astype(np.float32)
    curve = energy_curve(y, SR, 20.0)
    assert len(curve) == 100
    assert curve[:39].max() == 0.0
    assert curve[41:].min() > 0.9
    assert len(energy_curve(np.zeros(1000, np.float32), SR, 20.0)) == 1


def test_features_match_frame_count_and_are_finite():
    y = rock_like(5)
    f = compute_features(y)
    assert f.n_frames == 1 + len(y) // f.hop
    for arr in (f.mel, f.chroma, f.rms, f.zcr, f.centroid, f.rolloff, f.flatness, f.mfcc):
        assert arr.shape[-1] == f.n_frames
        assert np.isfinite(arr).all()
