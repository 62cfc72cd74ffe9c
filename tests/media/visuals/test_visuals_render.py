"""render_clip: exact frames, size and rate in the shared clip encoding; determinism;
atomic writes and cancellation; captions burnt in."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from soundstage.media.video import MediaError
from soundstage.media.video.clip_format import PIX_FMT
from soundstage.media.video.measure import decode_gray
from soundstage.media.visuals import (
    TEMPLATES,
    Caption,
    ClipSpec,
    build_template,
    iter_frames,
    render_clip,
)
from soundstage.media.visuals.templates.base import internal_size
from soundstage.media.visuals.templates.flow import Flow

SpecFactory = Callable[..., ClipSpec]
Probe = Callable[[Path], dict[str, Any]]


def test_at_least_four_templates_with_descriptions() -> None:
    assert len(TEMPLATES) >= 4
    assert {"flow", "kaleidoscope", "particles", "spectrum", "drift"} <= set(TEMPLATES)
    assert all(len(text) > 20 for text in TEMPLATES.values())


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_each_template_renders_exact_frames(
    template: str, tmp_path: Path, spec_factory: SpecFactory, probe_video: Probe
) -> None:
    spec = spec_factory(template, width=160, height=90, fps=24, n_frames=37)
    out = render_clip(spec, tmp_path / f"{template}.mp4")
    assert out == tmp_path / f"{template}.mp4"
    facts = probe_video(out)
    assert facts["codec_name"] == "h264"
    assert facts["pix_fmt"] == PIX_FMT
    assert (facts["width"], facts["height"]) == (160, 90)
    assert facts["r_frame_rate"] == "24/1"
    assert int(facts["nb_read_frames"]) == 37
    assert facts["nb_streams"] == 1  # no audio
    assert [p.name for p in tmp_path.iterdir()] == [f"{template}.mp4"]  # no temp left


def test_upscaled_portrait_clip(
    tmp_path: Path, spec_factory: SpecFactory, probe_video: Probe, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A size above the template's drawing budget is drawn smaller and scaled up by ffmpeg."""
    monkeypatch.setattr(Flow, "max_pixels", 100 * 100)
    spec = spec_factory("flow", width=360, height=640, n_frames=6)
    assert internal_size(360, 640, Flow.max_pixels) == (76, 134)
    assert next(iter_frames(spec)).shape == (134, 76, 3)
    facts = probe_video(render_clip(spec, tmp_path / "p.mp4"))
    assert (facts["width"], facts["height"], int(facts["nb_read_frames"])) == (360, 640, 6)


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_same_spec_same_frames(template: str, spec_factory: SpecFactory) -> None:
    spec = spec_factory(template, width=96, height=54, n_frames=12)

    def digest(s: ClipSpec) -> str:
        h = hashlib.sha256()
        for frame in iter_frames(s):
            h.update(frame.tobytes())
        return h.hexdigest()

    assert digest(spec) == digest(spec)
    other = spec_factory(template, width=96, height=54, n_frames=12, seed=spec.seed + 1)
    assert digest(other) != digest(spec)


def test_same_spec_same_video_bytes(tmp_path: Path, spec_factory: SpecFactory) -> None:
    spec = spec_factory("kaleidoscope", n_frames=10)
    a = render_clip(spec, tmp_path / "a.mp4").read_bytes()
    b = render_clip(spec, tmp_path / "b.mp4").read_bytes()
    assert a == b


def test_cancel_leaves_nothing(tmp_path: Path, spec_factory: SpecFactory) -> None:
    spec = spec_factory("particles", n_frames=60)
    seen: list[float] = []

    class Cancelled(Exception):
        pass

    def progress(p: float) -> None:
        seen.append(p)
        if p > 0.3:
            raise Cancelled

    with pytest.raises(Cancelled):
        render_clip(spec, tmp_path / "clip.mp4", on_progress=progress)
    assert list(tmp_path.iterdir()) == []
    assert seen and seen == sorted(seen)


def test_progress_reaches_one_and_replaces_old_file(
    tmp_path: Path, spec_factory: SpecFactory
) -> None:
    out = tmp_path / "clip.mp4"
    out.write_bytes(b"old")
    seen: list[float] = []
    render_clip(spec_factory("spectrum", n_frames=20), out, on_progress=seen.append)
    assert seen[-1] == 1.0 and all(0 <= p <= 1 for p in seen)
    assert out.read_bytes()[4:8] == b"ftyp"


def test_unknown_template_is_refused(tmp_path: Path, spec_factory: SpecFactory) -> None:
    with pytest.raises(ValueError, match="unknown visual template"):
        render_clip(spec_factory("nope"), tmp_path / "x.mp4")
    assert list(tmp_path.iterdir()) == []


def test_no_beats_no_energy_still_renders(tmp_path: Path, probe_video: Probe) -> None:
    spec = ClipSpec(
        width=64, height=36, fps=25, n_frames=9, start_s=0, template="drift", prompt="", seed=1
    )
    assert int(probe_video(render_clip(spec, tmp_path / "d.mp4"))["nb_read_frames"]) == 9


def test_captions_are_burnt_into_the_bottom(tmp_path: Path, spec_factory: SpecFactory) -> None:
    plain = spec_factory("flow", width=320, height=180, n_frames=20, energy=(0.3,) * 20, beats=())
    texted = spec_factory(
        "flow",
        width=320,
        height=180,
        n_frames=20,
        energy=(0.3,) * 20,
        beats=(),
        captions=(Caption(0.2, 0.5, "Hold {me} \\ close"),),
    )
    a = decode_gray(render_clip(plain, tmp_path / "a.mp4"), 320).astype(np.int16)
    b = decode_gray(render_clip(texted, tmp_path / "b.mp4"), 320).astype(np.int16)
    diff = np.abs(a - b)
    # Frames 6..14 (0.2 s .. 0.5 s) carry the caption, in the bottom third only. Text
    # changes pixels by far more than re-encoding noise (a few levels) does.
    strong = diff > 50
    shown = strong[7:14]
    assert shown[:, 120:, :].mean() > 0.02
    assert shown[:, :100, :].mean() < 0.001
    assert strong[:5].mean() < 0.001 and strong[16:].mean() < 0.001  # only in its time


def test_clips_of_one_song_differ_but_share_colours(spec_factory: SpecFactory) -> None:
    a = spec_factory("flow", width=96, height=54, n_frames=3, start_s=10.0)
    b = spec_factory("flow", width=96, height=54, n_frames=3, start_s=14.5)
    fa, fb = next(iter_frames(a)), next(iter_frames(b))
    assert not np.array_equal(fa, fb)
    ta, tb = build_template(a), build_template(b)
    assert np.array_equal(ta.ctx.pal, tb.ctx.pal)


def test_missing_ffmpeg_is_a_media_error(
    tmp_path: Path, spec_factory: SpecFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(MediaError, match="ffmpeg is not installed"):
        render_clip(spec_factory("flow", n_frames=3), tmp_path / "x.mp4")
    assert list(tmp_path.iterdir()) == []


def test_ffmpeg_failure_is_a_media_error_and_leaves_nothing(
    tmp_path: Path, spec_factory: SpecFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from soundstage.media.visuals import render

    monkeypatch.setattr(render, "clip_video_args", lambda fps: ["-c:v", "no-such-encoder"])
    with pytest.raises(MediaError):
        render_clip(spec_factory("flow", n_frames=30), tmp_path / "x.mp4")
    assert list(tmp_path.iterdir()) == []
