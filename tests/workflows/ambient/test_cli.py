"""`soundstage batch`: every line becomes a track; a bad line is refused before any work."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SOUNDSTAGE = Path(sys.executable).with_name("soundstage")

pytestmark = pytest.mark.timeout(300)


def test_batch_writes_one_folder_per_line(tmp_path):
    requests = tmp_path / "batch.jsonl"
    lines = [
        {"prompt": "ocean at night", "duration_s": 30, "seed": 1, "stems": False},
        {
            "prompt": "forest morning, flute",
            "duration_s": 30,
            "seed": 2,
            "stems": False,
            "formats": ["flac"],
        },
    ]
    requests.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    out = tmp_path / "out"
    done = subprocess.run(
        [str(SOUNDSTAGE), "batch", str(requests), "--out", str(out), "--json"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    reports = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["seed"] for r in reports] == [1, 2]
    folders = sorted(p.name for p in out.iterdir())
    assert folders == ["001-ocean-at-night", "002-forest-morning-flute"]
    assert (out / folders[1] / "track.flac").is_file()
    assert not (out / folders[0] / "stems").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"prompt": "calm", "duration_s": 30}\nnot json\n', "line 2"),
        ('{"prompt": "calm", "duration_s": 5}\n', "line 1"),
        ("[1, 2]\n", "expected a JSON object"),
        ("\n", "no requests"),
    ],
)
def test_batch_refuses_bad_files_before_generating(tmp_path, content, message):
    requests = tmp_path / "batch.jsonl"
    requests.write_text(content)
    out = tmp_path / "out"
    done = subprocess.run(
        [str(SOUNDSTAGE), "batch", str(requests), "--out", str(out)], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert not out.exists()
