"""Lyrics transcription is used only when a provider is configured."""

from __future__ import annotations

from soundstage.providers.openai import OpenAITranscriber
from soundstage.workflows.songs.pipeline import configured_transcriber
from tests.conftest import make_settings


def test_no_key_means_no_transcriber(tmp_path):
    assert configured_transcriber(make_settings(tmp_path, openai_api_key=None)) is None


def test_a_configured_key_gives_the_openai_transcriber(tmp_path):
    settings = make_settings(
        tmp_path, openai_api_key="sk-test", openai_base_url="http://127.0.0.1:9/v1"
    )
    transcriber = configured_transcriber(settings)
    assert isinstance(transcriber, OpenAITranscriber)
