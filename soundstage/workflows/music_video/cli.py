"""`soundstage video SONG`: the whole music video flow offline, straight into a folder.

Analysis → suggested sections → clip plan on beats → clips in parallel (embedded
visual engine, or the configured video provider) → composition with the song.
No database, no account.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from soundstage.config import get_settings

console = Console(stderr=True)

STEPS = ("analyzing", "generating clips", "composing")


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]Cannot make the video:[/] {message}", highlight=False)
    return typer.Exit(2)


def make_video(
    song: Path,
    out: Path,
    *,
    lyrics: str | None,
    template: str | None,
    aspect: str,
    seed: int,
    report: Any,
) -> dict[str, Any]:
    """Run the flow; `report(step, fraction)` shows progress. Returns what --json prints."""
    from soundstage.media.analysis.analyze import analyze_file
    from soundstage.media.visuals import TEMPLATES, suggest_template
    from soundstage.media.visuals.spec import ASPECTS
    from soundstage.workflows.music_video import planning
    from soundstage.workflows.music_video.pipeline import (
        clip_spec,
        compose_files,
        poster_time,
        render_clips,
        video_generator,
    )

    settings = get_settings()
    result = analyze_file(song, lyrics=lyrics, on_progress=lambda f, _s: report(STEPS[0], f))
    analysis = result.to_dict()
    template = template or suggest_template(result.genre, result.mood_primary,
                                            result.descriptors.get("energy", 0.5))  # fmt: skip
    if template not in TEMPLATES:
        raise planning.PlanError(
            f"unknown template {template!r}; choose one of: {', '.join(TEMPLATES)}"
        )
    fps = settings.video_fps
    drafts = [planning.SectionDraft(s.start, s.end, s.label) for s in result.suggested_sections]
    if not drafts:
        drafts = [planning.SectionDraft(0.0, result.duration_s, "A")]
    min_clip = min(settings.video_clip_min_s, result.duration_s)
    sections = planning.validate_sections(
        drafts, duration_s=result.duration_s, beats=result.rhythm.beats,
        min_section_s=min_clip, max_sections=10_000,
    )  # fmt: skip
    slots = planning.plan_clips(
        sections, beats=result.rhythm.beats, downbeats=result.rhythm.downbeats, fps=fps,
        total_frames=round(result.duration_s * fps), min_s=min_clip,
        max_s=max(settings.video_clip_max_s, 2 * min_clip),
    )  # fmt: skip
    width, height = ASPECTS[aspect]
    prompt = f"{result.mood_primary} {result.genre} music video"
    specs = {
        f"{i:04d}": clip_spec(
            analysis,
            start_frame=slot.start_frame,
            n_frames=slot.n_frames,
            fps=fps,
            width=width,
            height=height,
            template=template,
            prompt=f"{prompt}, {sections[slot.section_index].label} section",
            seed=seed * 1000 + i,
            section_label=sections[slot.section_index].label,
            first_in_section=slot.index_in_section == 0,
        )
        for i, slot in enumerate(slots)
    }
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="soundstage-video-", dir=out) as tmp:
        work = Path(tmp)
        clips = render_clips(
            specs, video_generator(settings), work, workers=settings.video_clip_workers,
            on_progress=lambda f: report(STEPS[1], f),
        )  # fmt: skip
        section_tuples = [(s.start, s.end, s.label) for s in sections]
        files = compose_files(
            [clips[k].path for k in sorted(clips)], song, work, fps=fps,
            lyrics=analysis["lyrics"], poster_at=poster_time(analysis, section_tuples),
            on_progress=lambda f: report(STEPS[2], f),
        )  # fmt: skip
        video = out / "video.mp4"
        poster = out / "poster.jpg"
        shutil.move(files.video, video)
        shutil.move(files.poster, poster)
        captions = None
        if files.captions is not None:
            captions = out / "lyrics.vtt"
            shutil.move(files.captions, captions)
    cuts = [round(slot.start_frame / fps, 4) for slot in slots[1:]]
    return {
        "video": str(video), "poster": str(poster),
        "captions": str(captions) if captions else None,
        "template": template, "aspect": aspect, "width": width, "height": height, "fps": fps,
        "duration_s": files.duration_s, "bpm": result.rhythm.bpm,
        "beats": result.rhythm.beats, "cuts": cuts,
        "sections": [{"start": s.start, "end": s.end, "label": s.label} for s in sections],
        "clips": [
            {"start": slot.start_frame / fps, "end": slot.end_frame / fps,
             "section": slot.section_index, "template": template}
            for slot in slots
        ],
    }  # fmt: skip


def video(
    song: Annotated[Path, typer.Argument(help="A song: MP3, WAV, M4A, FLAC, OGG...")],
    lyrics: Annotated[
        Path | None, typer.Option("--lyrics", help="Lyrics (plain text or LRC) to caption")
    ] = None,
    template: Annotated[
        str | None, typer.Option("--template", help="Visual template; suggested if omitted")
    ] = None,
    aspect: Annotated[str, typer.Option("--aspect", help="16:9 (1920x1080) or 9:16")] = "16:9",
    out: Annotated[Path, typer.Option("--out", help="Output folder")] = Path("output"),
    seed: Annotated[int, typer.Option("--seed", help="Seed of the visuals")] = 1,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print paths, beat times and cut times as JSON")
    ] = False,
) -> None:
    """Make a beat-synced music video for SONG, offline: writes video.mp4, poster.jpg and,
    with lyrics, lyrics.vtt into --out."""
    from soundstage.media.visuals.spec import ASPECTS

    if not song.is_file():
        raise _fail(f"{song}: no such file")
    if aspect not in ASPECTS:
        raise _fail(f"aspect must be one of {', '.join(ASPECTS)}, not {aspect!r}")
    from soundstage.workflows.songs.cli import read_lyrics

    lyrics_text = read_lyrics(lyrics, _fail)
    from soundstage.media.analysis.analyze import AnalysisError
    from soundstage.media.audio.errors import AudioDecodeError
    from soundstage.media.video import MediaError
    from soundstage.providers.base import ProviderError
    from soundstage.workflows.music_video.pipeline import ClipFailed
    from soundstage.workflows.music_video.planning import PlanError

    try:
        summary = _with_progress(
            lambda report: make_video(
                song,
                out,
                lyrics=lyrics_text,
                template=template,
                aspect=aspect,
                seed=seed,
                report=report,
            ),
            show=not as_json,
        )
    except (AnalysisError, AudioDecodeError, MediaError, PlanError, ProviderError) as error:
        raise _fail(str(error)) from None
    except ClipFailed as failure:
        if not isinstance(failure.error, MediaError | ProviderError):
            raise
        raise _fail(str(failure)) from None
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        console.print(
            f"[green]Wrote[/] {summary['video']} ({summary['duration_s']:.1f} s, "
            f"{len(summary['clips'])} clips, template {summary['template']})",
            highlight=False,
        )


def _with_progress(run: Any, *, show: bool) -> dict[str, Any]:
    if not show:
        return run(lambda step, fraction: None)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description:<18}"), BarColumn(),
               TextColumn("{task.percentage:>5.1f}%"), TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console) as progress:
        tasks = {step: progress.add_task(step, total=1.0) for step in STEPS}

        def report(step: str, fraction: float) -> None:
            progress.update(tasks[step], completed=min(1.0, max(0.0, fraction)))

        return run(report)


def register(app: typer.Typer) -> None:
    app.command()(video)
