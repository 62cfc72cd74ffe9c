"""Every template answers every beat: measured on the decoded MP4, not on our own frames."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from soundstage.media.video.measure import decode_gray, frame_changes, score_beats
from soundstage.media.visuals import TEMPLATES, ClipSpec, render_clip
from soundstage.media.visuals.drive import beat_frames, make_drive

SpecFactory = Callable[..., ClipSpec]


@pytest.mark.parametrize("template", sorted(TEMPLATES))
@pytest.mark.parametrize(("bpm", "mood"), [(96, "calm"), (174, "energetic")])
def test_beats_show_in_the_video(
    template: str, bpm: float, mood: str, tmp_path: Path, spec_factory: SpecFactory
) -> None:
    spec = spec_factory(template, n_frames=96, bpm=bpm, mood=mood, first_beat=0.23)
    frames = decode_gray(render_clip(spec, tmp_path / "clip.mp4"))
    assert len(frames) == spec.n_frames
    beats = beat_frames(spec.beats, spec.fps, spec.n_frames)
    result = score_beats(frame_changes(frames), beats, skip_start=12)
    assert len(result["ratios"]) >= 4
    assert result["fraction"] >= 0.8, result
    assert result["median_ratio"] >= 2.0, result


def test_a_static_picture_fails_the_measure() -> None:
    """The measure can fail: slow drift with no beat response scores nothing."""
    rng = np.random.default_rng(1)
    base = rng.integers(0, 255, (1, 18, 32)).astype(np.float32)
    frames = np.clip(base + np.arange(90)[:, None, None] * 0.5, 0, 255).astype(np.uint8)
    result = score_beats(frame_changes(frames), [15, 30, 45, 60, 75])
    assert result["fraction"] == 0.0


def test_pulse_decays_within_a_third_of_a_beat(spec_factory: SpecFactory) -> None:
    spec = spec_factory("flow", n_frames=120, bpm=120, first_beat=0.5)  # a beat every 15 frames
    d = make_drive(spec)
    for f in beat_frames(spec.beats, spec.fps, spec.n_frames)[:-1]:
        assert d.pulse[f] >= 0.45
        assert d.pulse[f + 5] <= 0.11 * d.pulse[f] + 1e-6  # 1/3 beat = 5 frames
    downs = beat_frames(spec.downbeats, spec.fps, spec.n_frames)
    others = sorted(set(beat_frames(spec.beats, spec.fps, spec.n_frames)) - set(downs))
    assert min(d.pulse[downs]) > max(d.pulse[others])  # downbeats hit harder


def test_entry_transition_is_stronger_when_opening_a_section(spec_factory: SpecFactory) -> None:
    plain = make_drive(spec_factory("flow", beats=(), downbeats=()))
    opening = make_drive(spec_factory("flow", beats=(), downbeats=(), first_in_section=True))
    assert plain.entry[0] > 0.4 and opening.entry[0] > plain.entry[0]
    assert plain.entry[12] < 0.05  # gone after ~0.4 s


def test_energy_drives_motion_speed(spec_factory: SpecFactory) -> None:
    calm = make_drive(spec_factory("flow", energy=(0.1,) * 45))
    loud = make_drive(spec_factory("flow", energy=(0.9,) * 45))
    assert loud.phase[-1] > 2.5 * calm.phase[-1]


def test_fast_tempo_limits_full_flashes(spec_factory: SpecFactory) -> None:
    spec = spec_factory("flow", n_frames=90, bpm=200, energy=(0.5,) * 90)  # 3.3 beats/s
    d = make_drive(spec)
    hits = d.pulse[beat_frames(spec.beats, spec.fps, spec.n_frames)]
    assert (hits >= 0.5).sum() <= 3 * 3 + 1  # at most ~3 full flashes a second
    assert hits.min() > 0.2  # the others still show
