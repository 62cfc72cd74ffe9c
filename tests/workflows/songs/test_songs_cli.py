"""`soundstage analyze`: the engine from the terminal, as JSON or a summary table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SOUNDSTAGE = Path(sys.executable).with_name("soundstage")

pytestmark = pytest.mark.timeout(180)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(SOUNDSTAGE), "analyze", *args], capture_output=True, text=True)


def test_analyze_json_and_table(track, tmp_path):
    lyrics = tmp_path / "lyrics.txt"
    lyrics.write_text("soft light on the water\nslowly drifting home\n")
    done = run(str(track), "--lyrics", str(lyrics), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    for key in ("bpm", "beats", "key", "mode", "loudness_lufs", "sections", "genre", "lyrics"):
        assert key in result
    assert abs(result["duration_s"] - 30) < 0.5

    table = run(str(track))
    assert table.returncode == 0, table.stderr
    for label in ("tempo", "BPM", "key", "loudness", "LUFS", "genre", "mood", "sections"):
        assert label in table.stdout


@pytest.mark.parametrize("kind", ["noise", "text", "empty", "missing"])
def test_bad_files_exit_2_with_a_message(audio, tmp_path, kind):
    path = tmp_path / "nothing.mp3" if kind == "missing" else audio[kind]
    done = run(str(path), "--json")
    assert done.returncode == 2
    assert "Cannot analyze" in done.stderr and done.stdout == ""
