"""The pipeline's pieces without the database: clip specs from an analysis, clips from the
embedded engine and from Replicate (a local fake server) conformed to the spec, cancellation."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import pytest

from soundstage.platform.jobs import JobCancelled
from soundstage.workflows.music_video.pipeline import (
    ClipFailed,
    clip_spec,
    poster_time,
    render_clips,
    video_generator,
)
from tests.conftest import make_settings
from tests.providers.fake_replicate import FakeReplicate

ANALYSIS = {
    "duration_s": 20.0,
    "beats": [0.5 * i for i in range(40)],
    "downbeats": [2.0 * i for i in range(10)],
    "energy_curve": [i / 200 for i in range(200)],  # 0 → 1 over 20 s
    "energy_curve_hz": 10.0,
    "mood_primary": "happy",
    "mood_vector": {"happy": 0.8},
    "lyrics": [
        {"start": 3.2, "end": 5.0, "text": "first line"},
        {"start": 5.5, "end": 9.0, "text": "second line"},
        {"start": 12.0, "end": 13.0, "text": "later"},
    ],
}


def spec(start_frame: int = 48, n_frames: int = 60, **kw):
    args = {"fps": 12, "width": 320, "height": 180, "template": "flow", "prompt": "p", "seed": 3}
    return clip_spec(ANALYSIS, start_frame=start_frame, n_frames=n_frames, **{**args, **kw})


def frames_of(path: Path) -> dict:
    args = ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
            "stream=width,height,r_frame_rate,nb_read_frames", "-of", "json", str(path)]  # fmt: skip
    return json.loads(subprocess.run(args, capture_output=True, check=True).stdout)["streams"][0]


def test_clip_spec_is_relative_to_the_clip():
    s = spec()  # frames 48..108 at 12 fps: 4.0–9.0 s
    assert s.start_s == 4.0 and s.duration_s == 5.0
    assert s.beats[0] == 0.0 and s.beats[-1] == 4.5 and len(s.beats) == 10
    assert s.downbeats == (0.0, 2.0, 4.0)
    assert len(s.energy) == 60 and s.energy[0] == pytest.approx(0.2, abs=0.01)
    assert s.energy == tuple(sorted(s.energy))  # follows the rising curve
    assert [c.text for c in s.captions] == ["first line", "second line"]
    assert s.captions[0].start == 0.0 and s.captions[0].end == 1.0  # clipped to the clip
    assert s.captions[1].start == 1.5 and s.captions[1].end == 5.0
    assert spec(captions=False).captions == ()
    assert s.mood == "happy"


def test_poster_time_sits_between_beats_of_the_first_chorus():
    at = poster_time(ANALYSIS, [(0, 8, "intro"), (8, 16, "chorus"), (16, 20, "outro")])
    assert 12.0 < at < 12.5 and at % 0.5 == pytest.approx(0.25)


def test_embedded_clips_render_to_the_spec(tmp_path: Path):
    settings = make_settings(tmp_path)
    specs = {"a": spec(), "b": spec(start_frame=108, n_frames=36, template="particles")}
    seen: list[float] = []
    done = render_clips(
        specs, video_generator(settings), tmp_path, workers=2, on_progress=seen.append
    )
    assert set(done) == {"a", "b"} and done["a"].provider == "embedded"
    for key, clip in done.items():
        facts = frames_of(clip.path)
        assert (facts["width"], facts["height"], facts["r_frame_rate"]) == (320, 180, "12/1")
        assert int(facts["nb_read_frames"]) == specs[key].n_frames
    assert done["a"].cost_usd == 0.0 and done["a"].compute_s > 0
    assert seen and seen[-1] == 1.0


@pytest.fixture
def fake_replicate(tmp_path: Path):
    video = tmp_path / "provider.mp4"  # what a text-to-video model returns: its own shape
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=480x272:rate=16:d=3",
         "-f", "lavfi", "-i", "sine=d=3", "-shortest", "-pix_fmt", "yuv420p", str(video)],
        check=True,
    )  # fmt: skip
    with FakeReplicate(video=video.read_bytes()) as server:
        yield server


def test_replicate_clips_are_normalised_to_the_spec(tmp_path: Path, fake_replicate):
    settings = make_settings(
        tmp_path, replicate_api_token=fake_replicate.api_token,
        replicate_base_url=fake_replicate.base_url, replicate_poll_interval_s=0.01,
    )  # fmt: skip
    generator = video_generator(settings)
    assert generator.name == "replicate"
    specs = {"a": spec()}  # 5 s wanted, the model gives 3 s at 16 fps and 480x272
    done = render_clips(specs, generator, tmp_path, workers=1)
    facts = frames_of(done["a"].path)
    assert (facts["width"], facts["height"], facts["r_frame_rate"]) == (320, 180, "12/1")
    assert int(facts["nb_read_frames"]) == 60
    assert done["a"].provider == "replicate" and done["a"].cost_usd > 0
    assert not list(tmp_path.glob("*.raw.mp4"))  # the provider's file is not kept
    created = next(r for r in fake_replicate.requests if r.method == "POST")
    assert created.body["input"]["prompt"] == "p" and created.body["input"]["seed"] == 3


def test_a_failing_clip_stops_the_others_and_names_itself(tmp_path: Path):
    class Broken:
        name = "broken"

        def generate_clip(self, spec, out, *, on_progress=None):
            raise RuntimeError("model exploded")

    with pytest.raises(ClipFailed, match="clip a: model exploded"):
        render_clips({"a": spec()}, Broken(), tmp_path, workers=1)


def test_cancelling_stops_clips_mid_render(tmp_path: Path):
    stopped = threading.Event()
    stopped_at: list[int] = []

    class Slow:
        name = "slow"

        def generate_clip(self, spec, out, *, on_progress=None):
            for step in range(1000):  # ~100 s unless cancelled
                try:
                    on_progress(step / 1000)
                except JobCancelled:
                    stopped_at.append(step)
                    stopped.set()
                    raise
                time.sleep(0.1)
            return []

    def progress(fraction: float) -> None:
        raise JobCancelled("cancelled by request")

    with pytest.raises(JobCancelled):
        render_clips({"a": spec(), "b": spec()}, Slow(), tmp_path, workers=2, on_progress=progress)
    assert stopped.is_set() and stopped_at and max(stopped_at) < 999  # stopped mid-render
