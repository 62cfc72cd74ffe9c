"""The "video" capability: which provider is chosen, the embedded engine, fallback."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from soundstage import providers
from soundstage.config import Settings
from soundstage.media.visuals.spec import ClipSpec
from soundstage.providers.base import CostRecord, ProviderError, ProviderNotConfigured
from soundstage.providers.registry import ProviderRegistry
from soundstage.providers.replicate import ReplicateVideo
from soundstage.providers.video import (
    CAPABILITY,
    EmbeddedVideo,
    VideoGenerator,
    register_embedded,
)


def settings(**values) -> Settings:
    values.setdefault("replicate_api_token", None)
    values.setdefault("video_provider", None)
    return Settings(_env_file=None, **values)


def spec(**values) -> ClipSpec:
    fields = dict(
        width=64, height=36, fps=12, n_frames=36, start_s=0.0, template="pulse",
        prompt="slow waves", seed=7,
    )  # fmt: skip
    fields.update(values)
    return ClipSpec(**fields)


# --- choosing a provider (the global registry, as the workflow uses it) ---------------------


def test_replicate_is_registered_before_the_embedded_fallback():
    assert providers.registry.registry.names(CAPABILITY) == ["replicate", "embedded"]


def test_without_a_token_the_embedded_engine_is_chosen():
    assert providers.available(CAPABILITY, settings()) == ["embedded"]
    assert isinstance(providers.get(CAPABILITY, settings()), EmbeddedVideo)


def test_with_a_token_replicate_is_chosen():
    current = settings(replicate_api_token="r8_abc")
    assert providers.available(CAPABILITY, current) == ["replicate", "embedded"]
    video = providers.get(CAPABILITY, current)
    try:
        assert isinstance(video, ReplicateVideo)
    finally:
        video.close()


def test_video_provider_setting_overrides_the_order():
    current = settings(replicate_api_token="r8_abc", video_provider="embedded")
    assert isinstance(providers.get(CAPABILITY, current), EmbeddedVideo)
    assert providers.available(CAPABILITY, current) == ["embedded", "replicate"]


def test_asking_for_replicate_without_a_token_names_the_variable():
    with pytest.raises(ProviderNotConfigured, match="SOUNDSTAGE_REPLICATE_API_TOKEN"):
        providers.get(CAPABILITY, settings(video_provider="replicate"))


def test_both_providers_satisfy_the_protocol():
    assert isinstance(EmbeddedVideo(), VideoGenerator)
    with ReplicateVideo("r8_abc") as video:
        assert isinstance(video, VideoGenerator)


# --- the embedded provider ------------------------------------------------------------------


def test_embedded_costs_nothing_and_calls_the_engine(tmp_path):
    calls = []

    def render(clip, out_path, *, on_progress=None):
        calls.append((clip, out_path, on_progress))
        out_path.write_bytes(b"mp4")
        return out_path

    clip = spec()
    out = tmp_path / "clip.mp4"
    zero = [CostRecord("embedded", "video", 3.0, "second", 0.0, estimated=False)]

    assert EmbeddedVideo(render).estimate_cost(clip) == zero
    assert EmbeddedVideo(render).generate_clip(clip, out, on_progress=print) == zero
    assert calls == [(clip, out, print)]


def test_embedded_renders_a_real_clip(tmp_path):
    try:
        from soundstage.media.visuals import render_clip  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"soundstage.media.visuals.render_clip is not importable yet: {exc}")
    out = tmp_path / "clip.mp4"
    seen: list[float] = []

    costs = EmbeddedVideo().generate_clip(spec(template="flow"), out, on_progress=seen.append)

    assert [c.cost_usd for c in costs] == [0.0]
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    [stream] = [s for s in json.loads(probe.stdout)["streams"] if s["codec_type"] == "video"]
    assert (stream["width"], stream["height"]) == (64, 36)
    assert seen and seen[-1] == pytest.approx(1.0)


# --- fallback (a private registry) ----------------------------------------------------------


class BrokenCloud:
    name = "cloud"

    def estimate_cost(self, clip):
        return []

    def generate_clip(self, clip, out_path, *, on_progress=None):
        raise ProviderError("cloud", "prediction abc failed: out of memory")


def test_with_fallback_moves_on_to_the_embedded_engine(tmp_path):
    registry = ProviderRegistry()
    registry.register(CAPABILITY, "cloud", lambda s: BrokenCloud(), configured=lambda s: True)
    register_embedded(registry)

    rendered = []

    def render(clip, out_path, *, on_progress=None):
        rendered.append(out_path)

    registry.register(
        CAPABILITY, "embedded", lambda s: EmbeddedVideo(render), configured=lambda s: True
    )  # replaced in place: still last

    out = tmp_path / "clip.mp4"
    costs = registry.with_fallback(
        CAPABILITY, settings(), lambda video: video.generate_clip(spec(), out)
    )
    assert registry.names(CAPABILITY) == ["cloud", "embedded"]
    assert rendered == [out]
    assert [c.provider for c in costs] == ["embedded"]


def test_embedded_without_the_engine_is_a_provider_error(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "soundstage.media.visuals", None)  # import fails
    with pytest.raises(ProviderError, match="embedded visual engine is not available"):
        EmbeddedVideo().generate_clip(spec(), Path(tmp_path / "x.mp4"))
