"""Sections snap to beats and tile the song; clips tile sections on beats and frames."""

from __future__ import annotations

import itertools

import pytest

from soundstage.workflows.music_video.planning import (
    PlanError,
    SectionDraft,
    plan_clips,
    snap_to_beat,
    validate_sections,
)

FPS = 30
BPM = 120
DURATION = 60.0
BEATS = [0.25 + i * 60 / BPM for i in range(int((DURATION - 0.25) * BPM / 60))]
DOWNBEATS = BEATS[::4]


def sections(*edges_and_labels):
    edges = edges_and_labels[0]
    labels = edges_and_labels[1]
    return [SectionDraft(a, b, lab) for a, b, lab in zip(edges, edges[1:], labels, strict=False)]


def validate(drafts, **kw):
    args = {"duration_s": DURATION, "beats": BEATS, "min_section_s": 3.0, "max_sections": 24}
    return validate_sections(drafts, **{**args, **kw})


def test_snap_to_beat_picks_the_nearest():
    assert snap_to_beat(10.1, BEATS) == pytest.approx(10.25)
    assert snap_to_beat(9.9, BEATS) == pytest.approx(9.75)
    assert snap_to_beat(3.3, []) == 3.3


def test_inner_edges_snap_and_outer_edges_stay():
    snapped = validate(sections([0, 15.1, 40.37, DURATION], ["intro", "verse", "chorus"]))
    assert [s.start for s in snapped] == [0.0, 15.25, 40.25]
    assert snapped[-1].end == DURATION
    assert all(a.end == b.start for a, b in itertools.pairwise(snapped))


@pytest.mark.parametrize(
    ("drafts", "message"),
    [
        ([SectionDraft(0, 20, "a"), SectionDraft(25, 60, "b")], "leave a gap of 5.00 s"),
        ([SectionDraft(0, 30, "a"), SectionDraft(25, 60, "b")], "overlap by 5.00 s"),
        ([SectionDraft(0, 30, "a"), SectionDraft(30, 70, "b")], "goes past the song"),
        ([SectionDraft(2, 30, "a"), SectionDraft(30, 60, "b")], "must start at 0 s"),
        ([SectionDraft(0, 30, "a"), SectionDraft(30, 50, "b")], "must end at the song's end"),
        ([SectionDraft(0, 30, "a"), SectionDraft(30, 31, "b"), SectionDraft(31, 60, "c")],
         "at least 3 s"),
        ([SectionDraft(0, 60, " ")], "label must not be empty"),
        ([SectionDraft(0, 60, "a", "x" * 101)], "at most 100"),
        ([SectionDraft(10, 5, "a")], "must be after start"),
        ([], "at least one section"),
    ],
)  # fmt: skip
def test_bad_sections_are_refused_with_a_reason(drafts, message):
    with pytest.raises(PlanError, match=message):
        validate(drafts)


def test_too_many_sections():
    drafts = [SectionDraft(i * 6.0, (i + 1) * 6.0, "s") for i in range(10)]
    with pytest.raises(PlanError, match="at most 4 sections"):
        validate(drafts, max_sections=4)


def plan(drafts, **kw):
    args = {"beats": BEATS, "downbeats": DOWNBEATS, "fps": FPS,
            "total_frames": round(DURATION * FPS), "min_s": 3.0, "max_s": 10.0}  # fmt: skip
    return plan_clips(drafts, **{**args, **kw})


def test_clips_tile_each_section_on_beats_within_limits():
    snapped = validate(sections([0, 13, 35.2, DURATION], ["intro", "verse", "chorus"]))
    slots = plan(snapped)
    assert slots[0].start_frame == 0 and slots[-1].end_frame == round(DURATION * FPS)
    for a, b in itertools.pairwise(slots):
        assert a.end_frame == b.start_frame  # no gap, no overlap
    beat_frames = {round(b * FPS) for b in BEATS}
    for slot in slots[1:]:
        assert slot.start_frame in beat_frames  # every cut on a beat, on the frame grid
    for slot in slots:
        assert 3.0 <= slot.n_frames / FPS <= 10.0
    for index, section in enumerate(snapped):  # and each section exactly
        inside = [s for s in slots if s.section_index == index]
        assert inside[0].start_frame == round(section.start * FPS)
        assert inside[-1].end_frame == round(section.end * FPS)
        assert [s.index_in_section for s in inside] == list(range(len(inside)))


def test_cuts_prefer_downbeats():
    slots = plan([SectionDraft(0.0, DURATION, "all")])
    downbeat_frames = {round(b * FPS) for b in DOWNBEATS}
    cuts = [s.start_frame for s in slots[1:]]
    assert cuts and all(c in downbeat_frames for c in cuts)


def test_a_beatless_song_is_cut_evenly_on_the_frame_grid():
    slots = plan([SectionDraft(0.0, 25.0, "a")], beats=[], downbeats=[], total_frames=750)
    assert [s.n_frames for s in slots] == [150, 150, 150, 150, 150]


def test_very_slow_beats_fall_back_to_even_cuts():
    slow = [0.0, 11.0, 22.0]  # beats too far apart to cut on
    slots = plan([SectionDraft(0.0, 30.0, "a")], beats=slow, downbeats=slow, total_frames=900)
    assert sum(s.n_frames for s in slots) == 900
    assert all(3.0 <= s.n_frames / FPS <= 10.0 for s in slots)


def test_limits_must_allow_tiling():
    with pytest.raises(PlanError, match="max ≥ 2 × min"):
        plan([SectionDraft(0.0, 60.0, "a")], min_s=4.0, max_s=6.0)
