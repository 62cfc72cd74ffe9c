"""Sections and clips on the beat grid: pure functions, no database.

A music video tiles the whole song. Sections are chosen by the user (or suggested
from the analysed structure) and their inner edges snap to beats; clips of
`min_s`–`max_s` tile each section exactly, cut on beats (downbeats preferred)
and on the frame grid. Frame ``f`` is shown at ``f / fps`` seconds, so a cut "on"
beat ``b`` is frame ``round(b * fps)``: never more than half a frame away.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

MAX_NOTE_CHARS = 100
# Inner section edges may be this far apart (a gap or an overlap) before snapping and
# still count as touching: the width of a hand-dragged handle, not a real gap.
EDGE_TOLERANCE_S = 0.1


class PlanError(ValueError):
    """A section list or clip plan the rules refuse; the message says what to fix."""


@dataclass(frozen=True)
class SectionDraft:
    start: float
    end: float
    label: str
    note: str = ""


@dataclass(frozen=True)
class ClipSlot:
    """One planned clip: a frame range of the song inside one section."""

    section_index: int
    index_in_section: int
    start_frame: int
    n_frames: int

    @property
    def end_frame(self) -> int:
        return self.start_frame + self.n_frames


def snap_to_beat(t: float, beats: Sequence[float]) -> float:
    """The beat nearest to `t` (`t` itself when there are no beats)."""
    if not beats:
        return t
    i = bisect.bisect_left(beats, t)
    near = [beats[j] for j in (i - 1, i) if 0 <= j < len(beats)]
    return min(near, key=lambda b: abs(b - t))


def validate_sections(
    drafts: Sequence[SectionDraft],
    *,
    duration_s: float,
    beats: Sequence[float],
    min_section_s: float,
    max_sections: int,
) -> list[SectionDraft]:
    """Check that the sections tile [0, duration] in order, then snap inner edges to beats.

    The first section must start at 0 and the last end at the song's end (within
    EDGE_TOLERANCE_S); neighbours must touch. Raises PlanError naming the section.
    """
    if not drafts:
        raise PlanError("give at least one section")
    if len(drafts) > max_sections:
        raise PlanError(f"at most {max_sections} sections are allowed, got {len(drafts)}")
    for i, s in enumerate(drafts):
        name = f"sections[{i}]"
        if not s.label.strip():
            raise PlanError(f"{name}: label must not be empty")
        if len(s.note) > MAX_NOTE_CHARS:
            raise PlanError(f"{name}: prompt note is {len(s.note)} characters; at most 100")
        if s.end <= s.start:
            raise PlanError(f"{name}: end ({s.end:.2f} s) must be after start ({s.start:.2f} s)")
        if s.start < -EDGE_TOLERANCE_S or s.end > duration_s + EDGE_TOLERANCE_S:
            raise PlanError(
                f"{name}: {s.start:.2f}–{s.end:.2f} s goes past the song (0–{duration_s:.2f} s)"
            )
    if abs(drafts[0].start) > EDGE_TOLERANCE_S:
        raise PlanError(f"sections[0] must start at 0 s, not {drafts[0].start:.2f} s")
    if abs(drafts[-1].end - duration_s) > EDGE_TOLERANCE_S:
        raise PlanError(
            f"the last section must end at the song's end ({duration_s:.2f} s), "
            f"not {drafts[-1].end:.2f} s"
        )
    for i in range(1, len(drafts)):
        gap = drafts[i].start - drafts[i - 1].end
        if gap > EDGE_TOLERANCE_S:
            raise PlanError(
                f"sections[{i - 1}] and sections[{i}] leave a gap of {gap:.2f} s; "
                "sections must cover the whole song"
            )
        if gap < -EDGE_TOLERANCE_S:
            raise PlanError(f"sections[{i - 1}] and sections[{i}] overlap by {-gap:.2f} s")

    inner = [snap_to_beat(drafts[i].start, beats) for i in range(1, len(drafts))]
    edges = [0.0, *inner, duration_s]
    snapped = []
    for i, s in enumerate(drafts):
        start, end = edges[i], edges[i + 1]
        if end - start < min_section_s - 1e-6:
            raise PlanError(
                f"sections[{i}] ({s.label}) is {end - start:.2f} s long once snapped to beats; "
                f"sections must be at least {min_section_s:g} s"
            )
        snapped.append(SectionDraft(round(start, 4), round(end, 4), s.label.strip(), s.note))
    return snapped


def plan_clips(
    sections: Sequence[SectionDraft],
    *,
    beats: Sequence[float],
    downbeats: Sequence[float],
    fps: int,
    total_frames: int,
    min_s: float,
    max_s: float,
    target_s: float | None = None,
) -> list[ClipSlot]:
    """Clips tiling every section exactly, each `min_s`–`max_s` long, cut on beats.

    Within a section, a shortest-path search over the beats inside it picks the
    cuts: each clip costs its squared distance from `target_s` (default: the
    whole number of bars nearest 5 s), plus a penalty for cutting off a downbeat.
    Where no beat plan fits (a very slow or beatless stretch), cuts fall on the
    frame grid at even spacing.
    """
    if min_s <= 0 or max_s < 2 * min_s:
        raise PlanError("clip length limits need 0 < min and max ≥ 2 × min")
    edges = [round(s.start * fps) for s in sections] + [total_frames]
    edges[0] = 0
    beat_frames = sorted({round(b * fps) for b in beats})
    downbeat_frames = {round(b * fps) for b in downbeats}
    target = target_s or _bar_target(beats, downbeats, min_s, max_s)
    slots: list[ClipSlot] = []
    for index in range(len(sections)):
        start, end = edges[index], edges[index + 1]
        inside = [f for f in beat_frames if start < f < end]
        cuts = _best_cuts(start, end, inside, downbeat_frames, fps, min_s, max_s, target)
        if cuts is None:
            cuts = _even_cuts(start, end, fps, min_s, max_s, target)
        bounds = [start, *cuts, end]
        for j in range(len(bounds) - 1):
            slots.append(ClipSlot(index, j, bounds[j], bounds[j + 1] - bounds[j]))
    return slots


def _bar_target(
    beats: Sequence[float], downbeats: Sequence[float], min_s: float, max_s: float
) -> float:
    """The whole number of bars whose length is nearest 5 s, within the clip limits."""
    if len(beats) < 2:
        return min(max(5.0, min_s), max_s)
    beat_s = (beats[-1] - beats[0]) / (len(beats) - 1)
    per_bar = 4
    if len(downbeats) >= 2:
        span = (downbeats[-1] - downbeats[0]) / (len(downbeats) - 1)
        per_bar = max(1, round(span / beat_s)) if beat_s > 0 else 4
    bar_s = per_bar * beat_s
    if bar_s <= 0:
        return 5.0
    bars = max(1, round(5.0 / bar_s))
    return min(max(bars * bar_s, min_s), max_s)


def _best_cuts(
    start: int,
    end: int,
    candidates: list[int],
    downbeats: set[int],
    fps: int,
    min_s: float,
    max_s: float,
    target_s: float,
) -> list[int] | None:
    """Cut frames for one section by dynamic programming, or None if no beat plan fits."""
    lo, hi = round(min_s * fps), int(max_s * fps)
    nodes = [start, *candidates, end]
    best: list[float] = [0.0] + [float("inf")] * (len(nodes) - 1)
    back = [-1] * len(nodes)
    for j in range(1, len(nodes)):
        for i in range(j - 1, -1, -1):
            length = nodes[j] - nodes[i]
            if length > hi:
                break
            if length < lo or best[i] == float("inf"):
                continue
            cost = best[i] + ((length / fps) - target_s) ** 2
            if j < len(nodes) - 1 and nodes[j] not in downbeats:
                cost += 1.0
            if cost < best[j]:
                best[j], back[j] = cost, i
    if best[-1] == float("inf"):
        return None
    cuts, j = [], back[-1]
    while j > 0:
        cuts.append(nodes[j])
        j = back[j]
    return sorted(cuts)


def _even_cuts(
    start: int, end: int, fps: int, min_s: float, max_s: float, target_s: float
) -> list[int]:
    """Evenly spaced cuts on the frame grid, for stretches with no usable beats."""
    length_s = (end - start) / fps
    count = max(1, round(length_s / target_s))
    while length_s / count > max_s:
        count += 1
    while count > 1 and length_s / count < min_s:
        count -= 1
    return [start + round(k * (end - start) / count) for k in range(1, count)]
