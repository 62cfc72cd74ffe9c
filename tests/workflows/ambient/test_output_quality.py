"""Quality of what `soundstage generate` writes, measured with independent tools.

Loudness and true peak come from FFmpeg's own EBU R128 filter, not our meter.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile
from mutagen.id3 import ID3
from PIL import Image

from soundstage.media.audio.decode import probe_audio, read_audio
from soundstage.media.music.engine import MusicOutputs, MusicRequest, render_music
from soundstage.media.video import probe

SOUNDSTAGE = Path(sys.executable).with_name("soundstage")
PROMPT = "rain on a tin roof, slow piano"
DURATION = 75.0

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("out")
    cmd = [str(SOUNDSTAGE), "generate", PROMPT, "--duration", str(DURATION), "--seed", "7", "--video",
           "--out", str(out), "--json"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return out, json.loads(done.stdout)


def ebur128(path: Path) -> dict[str, float]:
    """Integrated loudness, loudness range and true peak measured by FFmpeg."""
    done = subprocess.run(
        ["ffmpeg", "-nostats", "-hide_banner", "-i", str(path), "-af", "ebur128=peak=true", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    summary = done.stderr[done.stderr.rindex("Summary:") :]
    return {
        "I": float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1)),
        "LRA": float(re.search(r"LRA:\s+(-?[\d.]+) LU", summary).group(1)),
        "TP": float(re.search(r"Peak:\s+(-?[\d.inf]+) dBFS", summary).group(1)),
    }


def test_json_reports_paths_and_measurements(generated):
    _out, report = generated
    for kind in ("mp3", "m4a", "midi", "cover", "video"):
        assert Path(report["files"][kind]).is_file(), kind
    assert report["seed"] == 7
    assert abs(report["duration_s"] - DURATION) < 0.01
    assert abs(report["integrated_lufs"] + 14) <= 1 and report["true_peak_dbtp"] <= -1


def test_mp3_is_320k_44k1_stereo_with_tags_and_cover(generated):
    out, _report = generated
    info = probe_audio(out / "track.mp3")
    assert (info.codec, info.sample_rate, info.channels) == ("mp3", 44100, 2)
    assert abs(info.bitrate_kbps - 320) < 2
    assert abs(info.duration_s - DURATION) < 0.05
    tags = ID3(out / "track.mp3")
    assert tags["TPE1"].text == ["Soundstage"] and tags["TIT2"].text[0]
    comment = " ".join(str(frame) for frame in tags.getall("COMM"))
    assert PROMPT in comment and "seed: 7" in comment
    assert tags.getall("APIC") and tags.getall("APIC")[0].mime == "image/png"


def test_loudness_and_true_peak_measured_independently(generated):
    out, _ = generated
    measured = ebur128(out / "track.mp3")
    assert abs(measured["I"] + 14) <= 1.0, measured
    assert measured["TP"] <= -1.0, measured


def test_no_silence_longer_than_two_seconds_inside_the_track(generated):
    out, _report = generated
    audio = read_audio(out / "track.mp3").mean(axis=1)
    window = 4410  # 100 ms
    rms = np.sqrt(np.mean(audio[: len(audio) // window * window].reshape(-1, window) ** 2, axis=1))
    inside = rms[20:-60]  # past the fade-in, before the fade-out
    quiet = inside < 10 ** (-55 / 20)
    longest = max(
        (len(run) for run in "".join("1" if q else "0" for q in quiet).split("0")), default=0
    )
    assert longest * 0.1 <= 2.0, f"{longest * 0.1:.1f} s of silence"


def test_video_is_1080p30_h264_aac_faststart_and_in_sync(generated):
    out, _ = generated
    info = probe(out / "video.mp4")
    video, audio = info.video, info.audio
    assert (video.codec, video.width, video.height, video.pix_fmt) == (
        "h264",
        1920,
        1080,
        "yuv420p",
    )
    assert round(video.fps) == 30 and audio.codec == "aac"
    assert abs(video.duration_s - audio.duration_s) <= 1 / 30 + 1e-3
    head = (out / "video.mp4").read_bytes()[:4_000_000]
    assert 0 < head.find(b"moov") < head.find(b"mdat"), "moov atom must come first (faststart)"


def test_cover_midi_and_stems(generated):
    out, report = generated
    assert Image.open(out / "cover.png").size == (1920, 1080)
    song = mido.MidiFile(out / "track.mid")
    tempo = next(m.tempo for m in song.tracks[0] if m.type == "set_tempo")
    assert round(mido.tempo2bpm(tempo), 2) == round(report["bpm"], 2)
    stems = sorted((out / "stems").glob("*.flac"))
    assert {p.stem for p in stems} == {*report["layers"], "reverb"}
    for stem in stems:
        assert abs(soundfile.info(stem).duration - DURATION) < 0.01


def _master(tmp_path: Path, name: str, seed: int) -> np.ndarray:
    request = MusicRequest("calm ocean, warm pads", 35, seed)
    result = render_music(
        request, tmp_path / name, soundfont=_soundfont(), work_dir=tmp_path / f"w{name}",
        outputs=MusicOutputs(formats=("wav",), stems=False, midi=False),
    )  # fmt: skip
    return soundfile.read(result.files["wav"], dtype="int16")[0]


def _soundfont() -> Path:
    from soundstage.config import Settings

    return Settings(_env_file=None).resolved_soundfont()


def test_same_request_gives_identical_pcm_and_seeds_differ(tmp_path):
    first = _master(tmp_path, "a", 5)
    again = _master(tmp_path, "b", 5)
    other = _master(tmp_path, "c", 6)
    assert first.shape == again.shape == (35 * 44100, 2)
    assert np.array_equal(first, again)
    difference = np.sqrt(np.mean((first.astype(float) - other.astype(float)) ** 2))
    assert difference > 0.2 * np.sqrt(np.mean(first.astype(float) ** 2))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["", "--duration", "60"], "prompt"),
        (["calm", "--duration", "5"], "duration"),
        (["calm", "--key", "H"], "key"),
        (["calm", "--mood", "angry"], "mood"),
    ],
)
def test_cli_refuses_bad_input_clearly_and_writes_nothing(tmp_path, args, message):
    out = tmp_path / "out"
    done = subprocess.run(
        [str(SOUNDSTAGE), "generate", *args, "--out", str(out)], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert not out.exists()
