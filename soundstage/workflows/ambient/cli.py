"""`soundstage generate` and `soundstage batch`: the ambient studio from the terminal.

They run the same pipeline as the server's jobs, straight into an output folder,
with no database and no account.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from soundstage.config import Settings, get_settings

if TYPE_CHECKING:  # the pipeline pulls in scipy, pedalboard...: import it when a command runs
    from soundstage.workflows.ambient.pipeline import AmbientSpec, GenerationResult
    from soundstage.workflows.ambient.schemas import GenerateRequest

STAGES = ("composing", "rendering", "mastering", "cover art", "rendering video")
console = Console(stderr=True)


class StageBars:
    """One Rich progress bar per pipeline stage, driven by the pipeline's (fraction, stage)."""

    def __init__(self, progress: Progress, with_video: bool) -> None:
        self.progress = progress
        stages = STAGES if with_video else STAGES[:-1]
        self.tasks: dict[str, TaskID] = {
            s: progress.add_task(s, total=1.0, start=False) for s in stages
        }
        self.current: str | None = None
        self.stage_start = 0.0

    def __call__(self, fraction: float, stage: str) -> None:
        if stage not in self.tasks:  # "done"
            for task in self.tasks.values():
                self.progress.update(task, completed=1.0)
            return
        if stage != self.current:
            if self.current:
                self.progress.update(self.tasks[self.current], completed=1.0)
            self.progress.start_task(self.tasks[stage])
            self.current, self.stage_start = stage, fraction
        span = max(1e-6, self._stage_end(stage) - self.stage_start)
        self.progress.update(
            self.tasks[stage], completed=min(1.0, (fraction - self.stage_start) / span)
        )

    def _stage_end(self, stage: str) -> float:
        from soundstage.media.music.engine import RENDER_SHARE
        from soundstage.workflows.ambient.pipeline import COVER_SHARE, MUSIC_SHARE

        with_video = "rendering video" in self.tasks
        music = MUSIC_SHARE if with_video else 1 - COVER_SHARE
        ends = {"composing": 0.0, "rendering": music * RENDER_SHARE, "mastering": music,
                "cover art": music + COVER_SHARE, "rendering video": 1.0}  # fmt: skip
        return ends[stage]


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<16}"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
        TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False,
    )  # fmt: skip


def _spec(request: GenerateRequest) -> AmbientSpec:
    from soundstage.workflows.ambient.service import spec_for

    return spec_for(request)


def _request(data: dict, settings: Settings, where: str) -> GenerateRequest:
    from soundstage.workflows.ambient.schemas import GenerateRequest

    try:
        request = GenerateRequest.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in error.errors()
        )
        raise typer.BadParameter(f"{where}: {problems}") from None
    from soundstage.platform.errors import AppError
    from soundstage.workflows.ambient.service import check_limits

    try:
        check_limits(request, settings)
    except AppError as error:
        raise typer.BadParameter(f"{where}: {error}") from None
    return request


def run_one(spec: AmbientSpec, out: Path, settings: Settings, show: bool) -> GenerationResult:
    from soundstage.workflows.ambient.pipeline import generate_files

    soundfont = settings.resolved_soundfont()
    if soundfont is None:
        raise typer.BadParameter(
            "no General-MIDI SoundFont found; run scripts/setup.sh or set SOUNDSTAGE_SOUNDFONT"
        )
    with tempfile.TemporaryDirectory(prefix="soundstage-") as work:
        if not show:
            return generate_files(
                spec,
                out,
                soundfont=soundfont,
                work_dir=Path(work),
                mp3_quality=settings.mp3_quality,
            )
        with _progress() as progress:
            return generate_files(
                spec, out, soundfont=soundfont, work_dir=Path(work), mp3_quality=settings.mp3_quality,
                on_progress=StageBars(progress, spec.render_video),
            )  # fmt: skip


def _report(result: GenerationResult, out: Path) -> None:
    table = Table(title=f"Written to {out.resolve()}", show_header=False)
    for kind, path in result.files.items():
        table.add_row(kind, str(path.resolve()))
    if result.stems:
        table.add_row("stems", f"{len(result.stems)} files in {(out / 'stems').resolve()}")
    loudness = result.music.loudness
    style = result.music.style.to_dict()
    table.add_row("music", f"{style['key']} {style['mode']}, {style['bpm']:g} BPM, {style['mood']}")
    table.add_row(
        "loudness",
        f"{loudness.integrated_lufs:.1f} LUFS, true peak {loudness.true_peak_dbtp:.1f} dBTP",
    )
    table.add_row(
        "duration", f"{loudness.duration_s:.2f} s, made in {sum(result.timings.values()):.1f} s"
    )
    console.print(table)


def generate(
    prompt: Annotated[
        str, typer.Argument(help="What the music should be, e.g. 'rain on a tin roof, slow piano'")
    ],
    duration: Annotated[
        float, typer.Option("--duration", "-d", help="Seconds (30 to 10800)")
    ] = 180.0,
    seed: Annotated[int | None, typer.Option(help="Same seed + prompt = same track")] = None,
    key: Annotated[str | None, typer.Option(help="Key, e.g. C, F#, Bb")] = None,
    mode: Annotated[str | None, typer.Option(help="major, minor, dorian, lydian...")] = None,
    bpm: Annotated[float | None, typer.Option(help="Tempo, 40 to 160")] = None,
    mood: Annotated[
        str | None, typer.Option(help="calm, dreamy, melancholic, dark, uplifting...")
    ] = None,
    instrument: Annotated[
        list[str] | None, typer.Option("--instrument", "-i", help="Repeat to pick instruments")
    ] = None,
    title: Annotated[str | None, typer.Option(help="Title for tags and the cover")] = None,
    video: Annotated[bool, typer.Option("--video", help="Also render a 1080p30 MP4")] = False,
    stems: Annotated[
        bool, typer.Option("--stems/--no-stems", help="One FLAC stem per layer")
    ] = True,
    wav: Annotated[bool, typer.Option("--wav", help="Also write a WAV master")] = False,
    flac: Annotated[bool, typer.Option("--flac", help="Also write a FLAC master")] = False,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder")] = Path("output"),
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object with paths and measurements")
    ] = False,
) -> None:
    """Generate a mastered ambient track with its cover, MIDI, stems and (with --video) MP4."""
    settings = get_settings()
    data = {"prompt": prompt, "duration_s": duration, "seed": seed, "key": key, "mode": mode, "bpm": bpm,
            "mood": mood, "instruments": instrument or None, "title": title, "render_video": video, "stems": stems,
            "formats": [f for f, on in (("wav", wav), ("flac", flac)) if on]}  # fmt: skip
    spec = _spec(_request({k: v for k, v in data.items() if v is not None}, settings, "request"))
    from soundstage.media.music.style import StyleError

    try:
        result = run_one(spec, out, settings, show=not as_json)
    except StyleError as error:
        raise typer.BadParameter(str(error)) from None
    if as_json:
        typer.echo(json.dumps({"seed": spec.seed, **result.summary()}, indent=2))
    else:
        _report(result, out)


def batch(
    file: Annotated[
        Path,
        typer.Argument(
            help="JSON Lines: one generate request per line", exists=True, dir_okay=False
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output folder; one sub-folder per track")
    ] = Path("output"),
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object per track")
    ] = False,
) -> None:
    """Generate every track described in a JSON Lines file (same fields as POST /api/generate)."""
    settings = get_settings()
    requests = []
    for number, line in enumerate(file.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            raise typer.BadParameter(f"line {number}: not valid JSON ({error.msg})") from None
        if not isinstance(data, dict):
            raise typer.BadParameter(f"line {number}: expected a JSON object")
        requests.append(_request(data, settings, f"line {number}"))
    if not requests:
        raise typer.BadParameter(f"{file} holds no requests")
    for index, request in enumerate(requests, start=1):
        spec = _spec(request)
        folder = out / f"{index:03d}-{_slug(spec.prompt)}"
        if not as_json:
            console.rule(f"[{index}/{len(requests)}] {spec.prompt}")
        result = run_one(spec, folder, settings, show=not as_json)
        if as_json:
            typer.echo(json.dumps({"seed": spec.seed, **result.summary()}))
        else:
            _report(result, folder)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "track"


def register(app: typer.Typer) -> None:
    app.command()(generate)
    app.command()(batch)
