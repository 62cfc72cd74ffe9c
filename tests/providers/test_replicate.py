"""ReplicateVideo against a fake Replicate predictions API on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from soundstage.config import Settings
from soundstage.media.visuals.spec import ClipSpec
from soundstage.providers.base import (
    USER_AGENT,
    CostRecord,
    ProviderError,
    RetryPolicy,
    TokenBucket,
)
from soundstage.providers.replicate import (
    DEFAULT_MODEL,
    GENERIC_INPUTS,
    InputMapping,
    ReplicateVideo,
    mapping_for,
    nearest_aspect,
)
from tests.providers.fake_replicate import FAILURE, MODEL, VERSION, FakeReplicate

TOKEN = "r8_test0123456789abcdef"


class FakeClock:
    """Monotonic time that only moves when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(scope="session")
def mp4_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real one-second 160x96 H.264 MP4 from ffmpeg's test pattern."""
    path = tmp_path_factory.mktemp("replicate") / "testsrc.mp4"
    subprocess.run(
        [
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "testsrc=size=160x96:rate=16",
            "-t", "1", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast",
            str(path),
        ],
        check=True,
    )  # fmt: skip
    return path.read_bytes()


@pytest.fixture(scope="session")
def replicate_server(mp4_bytes: bytes) -> Iterator[FakeReplicate]:
    with FakeReplicate(api_token=TOKEN, video=mp4_bytes) as server:
        yield server


@pytest.fixture
def fake(replicate_server: FakeReplicate) -> Iterator[FakeReplicate]:
    replicate_server.reset()
    yield replicate_server
    replicate_server.reset()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def retry_sleeps() -> list[float]:
    return []


@pytest.fixture
def make_video(
    fake: FakeReplicate, clock: FakeClock, retry_sleeps: list[float]
) -> Iterator[Callable[..., ReplicateVideo]]:
    made: list[ReplicateVideo] = []

    def make(api_token: str = TOKEN, **kwargs) -> ReplicateVideo:
        kwargs.setdefault("retry", RetryPolicy(max_retries=3, sleep=retry_sleeps.append, jitter=0))
        kwargs.setdefault("limiter", TokenBucket(1000, 1000))
        kwargs.setdefault("poll_limiter", TokenBucket(1000, 1000))
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("sleep", clock.sleep)
        video = ReplicateVideo(api_token, fake.base_url, **kwargs)
        made.append(video)
        return video

    yield make
    for video in made:
        video.close()


def clip(seconds: float = 5.0, *, width: int = 1920, height: int = 1080, fps: int = 30) -> ClipSpec:
    return ClipSpec(
        width=width,
        height=height,
        fps=fps,
        n_frames=round(seconds * fps),
        start_s=12.0,
        template="pulse",
        prompt="neon city at night, rain; chorus: the lights swell",
        seed=1234,
    )


def ffprobe(path: Path) -> dict:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout)


def creates(fake: FakeReplicate) -> list:
    return [r for r in fake.requests if r.method == "POST" and r.path.endswith("/predictions")]


# --- the happy path ---------------------------------------------------------------------------


def test_generates_a_playable_mp4_and_reports_the_cost(make_video, fake, clock, tmp_path):
    costs: list[CostRecord] = []
    progress: list[float] = []
    out = tmp_path / "clips" / "clip-000.mp4"

    records = make_video(on_cost=costs.append).generate_clip(
        clip(5.0), out, on_progress=progress.append
    )

    info = ffprobe(out)
    [stream] = info["streams"]
    assert (stream["codec_type"], stream["codec_name"]) == ("video", "h264")
    assert (stream["width"], stream["height"]) == (160, 96)
    assert float(info["format"]["duration"]) == pytest.approx(1.0, abs=0.1)
    assert [p.name for p in out.parent.iterdir()] == ["clip-000.mp4"]  # no temp file left

    # 42.5 s of prediction time at $0.0014 a second
    expected = CostRecord("replicate", "video", 42.5, "gpu_second", 0.0595, estimated=True)
    assert records == [expected]
    assert costs == [expected]

    # starting → processing → processing → succeeded: three polls, one interval apart
    assert fake.polls() == 3
    assert clock.sleeps == [2.0, 2.0, 2.0]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert any(0.1 < p < 0.8 for p in progress)  # from the progress bar in the logs

    [create] = creates(fake)
    assert create.path == f"/v1/models/{MODEL}/predictions"
    assert create.headers["authorization"] == f"Bearer {TOKEN}"
    assert create.headers["user-agent"] == USER_AGENT
    assert "prefer" not in create.headers
    # 5 s at 30 fps would be 150 frames: over the model's 100, so 20 fps × 100 frames
    assert create.body == {
        "input": {
            "prompt": "neon city at night, rain; chorus: the lights swell",
            "seed": 1234,
            "aspect_ratio": "16:9",
            "num_frames": 100,
            "frames_per_second": 20,
            "resolution": "480p",
        }
    }
    [download] = fake.downloads
    assert download.path.endswith("/output.mp4")


def test_a_pinned_version_uses_the_predictions_endpoint(make_video, fake, tmp_path):
    make_video(version=VERSION).generate_clip(clip(), tmp_path / "c.mp4")
    [create] = creates(fake)
    assert create.path == "/v1/predictions"
    assert create.body["version"] == VERSION
    assert create.body["input"]["prompt"].startswith("neon city")


def test_owner_name_colon_version_is_accepted_as_the_model(make_video, fake, tmp_path):
    video = make_video(model=f"{MODEL}:{VERSION}")
    assert (video.model, video.version) == (MODEL, VERSION)
    video.generate_clip(clip(), tmp_path / "c.mp4")
    assert creates(fake)[0].path == "/v1/predictions"


def test_a_list_output_and_a_cdn_host_get_no_token(make_video, fake, tmp_path):
    fake.output_as_list = True
    fake.output_origin = f"http://localhost:{fake.port}"  # another origin, like replicate.delivery
    out = tmp_path / "c.mp4"
    make_video().generate_clip(clip(), out)
    assert out.read_bytes() == fake.video
    [download] = fake.downloads
    assert "authorization" not in download.headers


def test_prefer_wait_can_answer_without_polling(make_video, fake, clock, tmp_path):
    out = tmp_path / "c.mp4"
    make_video(prefer_wait_s=30).generate_clip(clip(), out)
    assert creates(fake)[0].headers["prefer"] == "wait=30"
    assert fake.polls() == 0 and clock.sleeps == []
    assert out.stat().st_size == len(fake.video)


def test_from_settings_reads_every_replicate_setting(fake, tmp_path):
    settings = Settings(
        _env_file=None,
        replicate_api_token=TOKEN,
        replicate_base_url=fake.base_url,
        replicate_video_version=VERSION,
        replicate_video_input={"resolution": "720p", "seed": None},
        replicate_poll_interval_s=0.5,
        replicate_timeout_s=30,
        replicate_usd_per_second=0.001,
        replicate_rate_per_min=12,
    )
    with ReplicateVideo.from_settings(settings, limiter=TokenBucket(10, 10)) as video:
        assert (video.version, video.poll_interval_s, video.timeout_s) == (VERSION, 0.5, 30)
        assert video.usd_per_second == 0.001
        [record] = video.generate_clip(clip(), tmp_path / "c.mp4")
    assert record.cost_usd == pytest.approx(0.0425)
    body = creates(fake)[0].body
    assert body["input"]["resolution"] == "720p" and "seed" not in body["input"]


def test_from_settings_without_a_token_is_a_provider_error():
    with pytest.raises(ProviderError, match="SOUNDSTAGE_REPLICATE_API_TOKEN is not set"):
        ReplicateVideo.from_settings(Settings(_env_file=None, replicate_api_token=""))


# --- errors ---------------------------------------------------------------------------------


def test_wrong_token_is_a_clear_error(make_video, fake, tmp_path):
    out = tmp_path / "c.mp4"
    with pytest.raises(ProviderError) as caught:
        make_video(api_token="r8_wrong").generate_clip(clip(), out)

    error = caught.value
    assert (error.provider, error.status) == ("replicate", 401)
    assert str(error) == (
        "replicate: HTTP 401: You did not pass a valid authentication token "
        "(check SOUNDSTAGE_REPLICATE_API_TOKEN)"
    )
    assert len(fake.requests) == 1  # not retried
    assert not out.exists()


def test_invalid_input_shows_replicates_validation_detail(make_video, fake, tmp_path):
    inputs = InputMapping(num_frames="num_frames", frames_range=(8, 16))  # out of the fake's range
    with pytest.raises(ProviderError) as caught:
        make_video(inputs=inputs).generate_clip(clip(), tmp_path / "c.mp4")
    assert caught.value.status == 422
    assert "num_frames: Must be greater than or equal to 81" in str(caught.value)


def test_failed_prediction_carries_the_models_error_and_its_cost(make_video, fake, tmp_path):
    fake.mode = "fail"
    costs: list[CostRecord] = []
    out = tmp_path / "c.mp4"

    with pytest.raises(ProviderError) as caught:
        make_video(on_cost=costs.append).generate_clip(clip(), out)

    error = caught.value
    assert error.code == "failed"
    assert error.service_message == FAILURE
    assert str(error).startswith("replicate: prediction ")
    assert str(error).endswith(f"failed: {FAILURE}")
    assert [c.units for c in costs] == [42.5]  # a failed prediction is still billed
    assert fake.cancels == [] and fake.downloads == []
    assert not out.exists()


def test_429_on_create_is_retried_after_retry_after(make_video, fake, retry_sleeps, tmp_path):
    fake.fail_next(429, times=1, retry_after="1")
    out = tmp_path / "c.mp4"
    make_video().generate_clip(clip(), out)
    assert retry_sleeps == [1.0]
    assert len(creates(fake)) == 2
    assert len(fake.predictions) == 1  # the throttled request created nothing
    assert out.exists()


def test_5xx_while_polling_is_retried(make_video, fake, retry_sleeps):
    video = make_video(
        retry=RetryPolicy(max_retries=3, base_delay_s=0.5, jitter=0, sleep=retry_sleeps.append)
    )
    prediction = video.create({"prompt": "x"})
    fake.fail_next(503, times=2)
    polled = video.get(prediction)
    assert polled.status == "processing"
    assert retry_sleeps == [0.5, 1.0]


def test_timeout_cancels_the_prediction(make_video, fake, clock, tmp_path):
    fake.mode = "slow"
    out = tmp_path / "c.mp4"
    costs: list[CostRecord] = []

    with pytest.raises(ProviderError) as caught:
        make_video(timeout_s=5, poll_interval_s=2, on_cost=costs.append).generate_clip(clip(), out)

    error = caught.value
    assert error.code == "timeout"
    assert "did not finish within 5 s (still processing); canceled it" in str(error)
    assert clock.sleeps == [2.0, 2.0, 1.0]  # never past the deadline
    [prediction_id] = fake.predictions
    assert fake.cancels == [prediction_id]
    cancel = next(r for r in fake.requests if r.path.endswith("/cancel"))
    assert cancel.headers["authorization"] == f"Bearer {TOKEN}"
    assert fake.predictions[prediction_id].status == "canceled"
    assert [c.units for c in costs] == [1.5]  # the time it ran before the cancel
    assert not out.exists() and fake.downloads == []


class Stop(Exception):
    pass


def test_raising_from_on_progress_cancels_and_leaves_no_file(make_video, fake, tmp_path):
    fake.polls_to_finish = 10
    out = tmp_path / "c.mp4"

    def on_progress(fraction: float) -> None:
        if fraction >= 0.1:  # the prediction is processing: the user canceled the job
            raise Stop

    with pytest.raises(Stop):
        make_video().generate_clip(clip(), out, on_progress=on_progress)

    [prediction_id] = fake.predictions
    assert fake.cancels == [prediction_id]
    assert fake.polls() == 1
    assert list(tmp_path.iterdir()) == []


def test_raising_while_downloading_leaves_no_partial_file(make_video, fake, tmp_path):
    out = tmp_path / "c.mp4"

    def on_progress(fraction: float) -> None:
        if fraction > 0.85:  # downloading
            raise Stop

    with pytest.raises(Stop):
        make_video().generate_clip(clip(), out, on_progress=on_progress)
    assert list(tmp_path.iterdir()) == []
    assert fake.cancels == []  # the prediction had finished: nothing to cancel


# --- rate limits and costs ------------------------------------------------------------------


def test_creating_predictions_takes_tokens_from_the_limiter(make_video, fake, tmp_path):
    bucket_clock = FakeClock()
    bucket = TokenBucket(1 / 60, 1, clock=bucket_clock, sleep=bucket_clock.sleep)  # 1 a minute
    video = make_video(limiter=bucket)

    video.generate_clip(clip(), tmp_path / "a.mp4")
    assert bucket_clock.sleeps == []  # the first one had a token
    video.generate_clip(clip(), tmp_path / "b.mp4")
    assert bucket_clock.sleeps == [pytest.approx(60.0)]  # the second waited for a refill
    assert len(creates(fake)) == 2  # polls and downloads do not draw from this bucket


def test_without_metrics_the_cost_is_the_estimate(make_video, fake, tmp_path):
    fake.predict_time = None
    costs: list[CostRecord] = []
    video = make_video(on_cost=costs.append)
    records = video.generate_clip(clip(5.0), tmp_path / "c.mp4")
    assert records == costs == video.estimate_cost(clip(5.0))


def test_estimate_cost_is_from_the_clip_duration(make_video, fake):
    video = make_video(usd_per_second=0.002, gpu_seconds_per_clip_second=10)
    assert video.estimate_cost(clip(4.0)) == [
        CostRecord("replicate", "video", 40.0, "gpu_second", 0.08, estimated=True)
    ]
    assert fake.requests == []


# --- input mapping --------------------------------------------------------------------------


def test_default_model_frames_and_fps_cover_the_clip():
    wan = mapping_for(DEFAULT_MODEL)
    assert wan.frames_and_fps(3.0, 30) == (81, 24)  # at least the model's 81 frames
    assert wan.frames_and_fps(5.0, 30) == (100, 20)
    assert wan.frames_and_fps(10.0, 30) == (100, 10)
    assert wan.frames_and_fps(4.0, 24) == (96, 24)


def test_frames_step_rounds_to_k_times_step_plus_one():
    ltx = InputMapping(num_frames="num_frames", frames_range=(9, 257), frames_step=8)
    assert ltx.frames_and_fps(4.0, 24) == (97, 24)  # 96 → 8*12+1


def test_portrait_clips_ask_for_9_16_and_sizes_can_be_mapped():
    portrait = clip(width=1080, height=1920)
    assert nearest_aspect(1080, 1920, ("16:9", "9:16", "1:1")) == "9:16"
    sized = InputMapping(aspect_ratio=None, width="width", height="height", size_multiple=32,
                         max_side=1024)  # fmt: skip
    assert sized.build(portrait) == {"prompt": portrait.prompt, "seed": 1234, "width": 576,
                                     "height": 1024}  # fmt: skip


def test_unknown_models_get_the_generic_mapping_and_extra_input_wins():
    assert mapping_for("someone/their-video-model") is GENERIC_INPUTS
    built = GENERIC_INPUTS.build(clip(), {"duration": 5, "seed": None})
    assert built == {"prompt": clip().prompt, "aspect_ratio": "16:9", "duration": 5}


def test_duration_choices_take_the_shortest_covering_the_clip():
    kling = InputMapping(duration="duration", durations=(5, 10))
    assert kling.build(clip(3.2))["duration"] == 5
    assert kling.build(clip(7.5))["duration"] == 10
    assert kling.build(clip(12.0))["duration"] == 10


def test_an_empty_prompt_still_says_something():
    spec = ClipSpec(width=64, height=36, fps=12, n_frames=36, start_s=0, template="t",
                    prompt="  ", seed=1, mood="dark")  # fmt: skip
    assert GENERIC_INPUTS.build(spec)["prompt"] == "abstract visuals, dark mood"


def test_bad_construction_is_refused():
    with pytest.raises(ValueError, match="API token"):
        ReplicateVideo("")
    with pytest.raises(ValueError, match="owner/name"):
        ReplicateVideo(TOKEN, model="just-a-name")
    with pytest.raises(ValueError, match="prefer_wait_s"):
        ReplicateVideo(TOKEN, prefer_wait_s=120)
