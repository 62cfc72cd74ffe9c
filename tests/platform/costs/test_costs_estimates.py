"""Cost estimates per job type: lines per provider and step, from the configured providers."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from soundstage.platform.costs import (
    CostLine,
    EstimateError,
    estimate_job,
    estimated_types,
    register_cost_estimator,
)
from soundstage.platform.costs import estimates as estimates_module
from tests.conftest import make_settings


def lines(estimate) -> list[tuple[str, str]]:
    return [(line.provider, line.step) for line in estimate.lines]


def test_ambient_is_free_with_compute_time(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    full = estimate_job(
        settings, "ambient.generate", {"duration_s": 600, "render_video": True, "stems": True}
    )
    assert lines(full) == [
        ("embedded", "music"),
        ("embedded", "stems"),
        ("embedded", "cover"),
        ("embedded", "video"),
    ]
    assert full.total_usd == Decimal(0)
    assert full.lines[0].compute_s == pytest.approx(600 / 40)
    assert (full.lines[0].units, full.lines[0].unit) == (600, "audio_second")
    assert full.total_compute_s > full.lines[0].compute_s
    # The job's own payload (a spec inside) is understood too.
    job_payload = {"track_id": "t1", "spec": {"duration_s": 60, "stems": False}}
    assert lines(estimate_job(settings, "ambient.generate", job_payload)) == [
        ("embedded", "music"),
        ("embedded", "cover"),
    ]


def test_music_video_on_the_embedded_provider(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, video_clip_max_s=10.0)
    estimate = estimate_job(settings, "music_video.generate", {"duration_s": 95})
    assert lines(estimate) == [("embedded", "clips"), ("embedded", "compose")]
    clips = estimate.lines[0]
    assert clips.usd == Decimal(0) and clips.units == pytest.approx(95)
    assert clips.compute_s > 0


def test_music_video_on_replicate_is_priced_per_clip(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        replicate_api_token="r8_test",
        replicate_base_url="http://127.0.0.1:9/v1",  # never called: estimates send nothing
        replicate_usd_per_second=0.002,
    )
    estimate = estimate_job(settings, "music_video.generate", {"clip_seconds": [5, 5, 2.5]})
    assert lines(estimate) == [
        ("replicate", "clips"),
        ("embedded", "normalize clips"),
        ("embedded", "compose"),
    ]
    clips = estimate.lines[0]
    gpu_seconds = 12.5 * 8  # the provider's GPU seconds per second of clip
    assert (clips.units, clips.unit) == (pytest.approx(gpu_seconds), "gpu_second")
    assert clips.usd == Decimal("0.200000")
    assert estimate.total_usd == Decimal("0.200000")
    assert estimate.lines[1].usd == estimate.lines[2].usd == Decimal(0)


def test_song_analysis_prices_cloud_transcription(tmp_path: Path) -> None:
    offline = estimate_job(make_settings(tmp_path), "songs.analyze", {"duration_s": 120})
    assert lines(offline) == [("embedded", "analysis")]
    cloud = make_settings(tmp_path, openai_api_key="sk-test")
    priced = estimate_job(cloud, "songs.analyze", {"duration_s": 120})
    assert lines(priced) == [("embedded", "analysis"), ("openai", "lyrics")]
    assert priced.lines[1].usd == Decimal("0.012000")  # $0.006 a minute
    with_lyrics = estimate_job(cloud, "songs.analyze", {"duration_s": 120, "lyrics": "la la"})
    assert lines(with_lyrics) == [("embedded", "analysis")]


@pytest.mark.parametrize(
    ("job_type", "payload", "message"),
    [
        ("ambient.generate", {"duration_s": "long"}, "payload.duration_s: must be a number"),
        ("ambient.generate", {"duration_s": -1}, "more than 0 and at most"),
        ("ambient.generate", {"duration_s": 10**9}, "at most 10800 seconds"),
        ("ambient.generate", {"stems": "yes"}, "payload.stems: must be true or false"),
        ("music_video.generate", {"clip_seconds": []}, "a list of 1 to 1000"),
        ("music_video.generate", {"clip_seconds": [5] * 1001}, "a list of 1 to 1000"),
        ("music_video.generate", {"clip_seconds": [5, "x"]}, "must be a number"),
    ],
)
def test_bad_payloads_say_what_to_fix(tmp_path: Path, job_type, payload, message) -> None:
    with pytest.raises(EstimateError, match=message) as error:
        estimate_job(make_settings(tmp_path), job_type, payload)
    assert error.value.status == 422


def test_unknown_types_have_no_lines_unless_required(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert estimate_job(settings, "x.unknown", {}).lines == ()
    with pytest.raises(EstimateError, match=r"no cost estimate for 'x\.unknown'"):
        estimate_job(settings, "x.unknown", {}, required=True)


@pytest.fixture
def restore_estimators() -> Iterator[None]:
    saved = dict(estimates_module._estimators)
    yield
    estimates_module._estimators.clear()
    estimates_module._estimators.update(saved)


def test_workflows_register_their_own(tmp_path: Path, restore_estimators: None) -> None:
    def per_word(settings, payload) -> list[CostLine]:
        words = len(str(payload.get("script", "")).split())
        return [CostLine("tts", "voice", Decimal("0.001") * words, 0.0, words, "word")]

    register_cost_estimator("film.voice", per_word)
    assert "film.voice" in estimated_types()
    estimate = estimate_job(make_settings(tmp_path), "film.voice", {"script": "one two three"})
    assert estimate.total_usd == Decimal("0.003000")
    assert estimate.lines[0].as_dict() == {
        "provider": "tts", "step": "voice", "usd": 0.003, "compute_s": 0.0, "units": 3,
        "unit": "word",
    }  # fmt: skip
