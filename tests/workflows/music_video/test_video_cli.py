"""`soundstage video SONG`: the whole flow offline into a folder, and its refusals."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from soundstage.media.video.measure import av_sync
from tests.helpers import SOUNDSTAGE
from tests.workflows.music_video.conftest import LYRICS

pytestmark = pytest.mark.timeout(600)


def run(*args: str, fps: int = 12) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOUNDSTAGE_VIDEO_FPS": str(fps)}
    return subprocess.run(
        [str(SOUNDSTAGE), "video", *args], capture_output=True, text=True, env=env
    )


def test_video_from_a_song_with_lyrics(song_file: Path, tmp_path: Path):
    lyrics = tmp_path / "lyrics.txt"
    lyrics.write_text(LYRICS)
    out = tmp_path / "out"
    done = run(str(song_file), "--lyrics", str(lyrics), "--template", "particles",
               "--aspect", "9:16", "--out", str(out), "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["video"] == str(out / "video.mp4") and Path(summary["poster"]).is_file()
    assert "slowly drifting home" in Path(summary["captions"]).read_text()
    assert (summary["width"], summary["height"], summary["fps"]) == (1080, 1920, 12)
    assert summary["template"] == "particles"
    beats, cuts = summary["beats"], summary["cuts"]
    assert cuts and all(min(abs(c - b) for b in beats) <= 0.5 / 12 + 1e-6 for c in cuts)
    assert [c["start"] for c in summary["clips"][1:]] == pytest.approx(cuts, abs=1e-3)
    sync = av_sync(out / "video.mp4")
    assert sync["difference_frames"] <= 1, sync
    assert sorted(p.name for p in out.iterdir()) == ["lyrics.vtt", "poster.jpg", "video.mp4"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.mp3"], "no such file"),
        (["{song}", "--aspect", "4:3"], "aspect must be one of 16:9, 9:16"),
        (["{song}", "--template", "fireworks"], "unknown template 'fireworks'"),
        (["{song}", "--lyrics", "missing.txt"], "cannot read lyrics"),
    ],
)
def test_refusals_exit_2_with_a_reason(song_file: Path, tmp_path: Path, args, message):
    done = run(*[a.format(song=song_file) for a in args], "--out", str(tmp_path / "out"))
    assert done.returncode == 2, done.stderr
    assert message in " ".join(done.stderr.split())
    assert not (tmp_path / "out" / "video.mp4").exists()
