"""`soundstage track`: the same pipeline as the job, into a folder, with no database."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from soundstage.workflows.tracks.cli import register

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # a second command keeps `track` a subcommand
    return app


def test_track_command_writes_every_file_and_reports_what_was_heard(cli, tmp_path: Path):
    out = tmp_path / "out"
    args = ["track", "warm keys at night", "--duration", "6", "--genre", "lofi", "--bpm", "96",
            "--key", "F#", "--mode", "minor", "--seed", "3", "--style-seed", "9", "--motif",
            "waves", "--out", str(out), "--json"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    files = {kind: Path(path) for kind, path in summary["files"].items()}
    assert set(files) == {"mp3", "wav", "midi", "preview", "stems", "cover"}
    assert all(path.is_file() and path.parent == out for path in files.values())
    assert zipfile.ZipFile(files["stems"]).testzip() is None
    assert summary["spec"]["genre"] == "lofi" and summary["style_seed"] == 9
    check = summary["verification"]
    assert check["asked"] == {"bpm": 96.0, "key": "F#", "mode": "minor"}
    assert check["tempo_match"] and check["key_match"], check


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--genre", "rock"], "genre"), (["--duration", "2"], "duration_s"),
     (["--motif", "spirals"], "--motif")],
)  # fmt: skip
def test_track_command_refuses_bad_options(cli, tmp_path, args, message):
    result = CliRunner().invoke(cli, ["track", "x", "--out", str(tmp_path / "o"), *args])
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "o").exists()
