"""suggest_template: the documented rule."""

from __future__ import annotations

import pytest

from soundstage.media.visuals import TEMPLATES, suggest_template


@pytest.mark.parametrize(
    ("genre", "mood", "energy", "expected"),
    [
        ("Psychedelic rock", "calm", 0.5, "kaleidoscope"),
        ("deep house", "happy", 0.7, "spectrum"),
        ("Hip-Hop", "dark", 0.6, "spectrum"),
        ("electronic", "calm", 0.2, "flow"),
        ("ambient", "calm", 0.2, "drift"),
        ("Classical / piano", "sad", 0.7, "flow"),
        ("", "energetic", 0.8, "spectrum"),
        ("", "romantic", 0.8, "particles"),
        ("", "dreamy", 0.2, "flow"),
        ("", "sad", 0.2, "drift"),
        ("", "tense", 0.5, "kaleidoscope"),
        ("", "happy", 0.5, "particles"),
        ("jazz", "calm", 0.5, "flow"),
        ("housework songs", "calm", 0.5, "flow"),  # words, not substrings
    ],
)
def test_rule(genre: str, mood: str, energy: float, expected: str) -> None:
    assert suggest_template(genre, mood, energy) == expected


def test_always_a_known_template() -> None:
    for genre in ("", "metal", "trance", "folk", "???"):
        for mood in ("calm", "happy", "sad", "energetic", "dark", "dreamy", "tense", "romantic"):
            for energy in (-1.0, 0.0, 0.3, 0.5, 0.7, 2.0):
                assert suggest_template(genre, mood, energy) in TEMPLATES
