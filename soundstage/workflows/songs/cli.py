"""`soundstage analyze FILE`: the analysis engine from the terminal, no database, no server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # the engine pulls in librosa, scipy...: import it when the command runs
    from soundstage.media.analysis.result import AnalysisResult

console = Console(stderr=True)
out_console = Console()


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]Cannot analyze:[/] {message}", highlight=False)
    return typer.Exit(2)


def _run(path: Path, lyrics: str | None, show: bool) -> AnalysisResult:
    from soundstage.media.analysis.analyze import analyze_file

    if not show:
        return analyze_file(path, lyrics=lyrics)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description:<18}"), BarColumn(),
               TextColumn("{task.percentage:>5.1f}%"), TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("analyzing", total=1.0)

        def report(fraction: float, stage: str) -> None:
            progress.update(task, completed=min(1.0, max(0.0, fraction)), description=stage)

        return analyze_file(path, lyrics=lyrics, on_progress=report)


def read_lyrics(path: Path | None, fail: Callable[[str], typer.Exit]) -> str | None:
    """The text of a --lyrics file (plain text or LRC), or `fail` saying why it is unreadable."""
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise fail(f"cannot read lyrics {path}: {error.strerror or error}") from None


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def _db(value: float | None, unit: str) -> str:
    return "—" if value is None else f"{value:.1f} {unit}"


def _report(path: Path, result: AnalysisResult) -> None:
    table = Table(title=str(path), show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    rhythm, key = result.rhythm, result.key
    minutes, seconds = divmod(round(result.duration_s), 60)
    table.add_row(
        "duration",
        f"{minutes}:{seconds:02d} ({result.sample_rate} Hz, {result.channels} ch)",
    )
    table.add_row(
        "tempo",
        f"{rhythm.bpm:.1f} BPM (confidence {_pct(rhythm.bpm_confidence)}), "
        f"{rhythm.meter} beats per bar, {len(rhythm.beats)} beats",
    )
    table.add_row("key", f"{key.key} {key.mode} (confidence {_pct(key.confidence)})")
    table.add_row(
        "loudness",
        f"{_db(result.loudness_lufs, 'LUFS')}, true peak {_db(result.true_peak_dbtp, 'dBTP')}, "
        f"range {_db(result.loudness_range_lu, 'LU')}",
    )
    if result.descriptors:
        table.add_row(
            "descriptors", ", ".join(f"{k} {v:.2f}" for k, v in result.descriptors.items())
        )
    top = sorted(result.genre_probabilities.items(), key=lambda kv: -kv[1])[:3]
    genres = ", ".join(f"{name} {_pct(p)}" for name, p in top)
    table.add_row("genre", f"{result.genre}" + (f" ({genres})" if genres else ""))
    mood = f"{result.mood_primary} (confidence {_pct(result.mood_confidence)})"
    if result.mood_tags:
        mood += f"; {', '.join(result.mood_tags)}"
    table.add_row("mood", mood)
    sections = ", ".join(f"{s.label} {s.start:.0f}–{s.end:.0f}s" for s in result.sections)
    table.add_row("sections", f"{len(result.sections)}: {sections}" if sections else "none found")
    lines = f"{len(result.lyrics)} lines"
    if result.lyrics_source:
        lines += f" ({result.lyrics_source})"
    table.add_row("lyrics", lines)
    for warning in result.warnings:
        table.add_row("warning", warning, style="yellow")
    out_console.print(table)


def analyze(
    file: Annotated[Path, typer.Argument(help="An audio file: MP3, WAV, M4A, FLAC, OGG...")],
    lyrics: Annotated[
        Path | None,
        typer.Option("--lyrics", help="A text file with the lyrics, one sung line per line"),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the whole analysis as one JSON object")
    ] = False,
    midi: Annotated[
        Path | None,
        typer.Option("--midi", help="Also transcribe melody and bass to this MIDI file"),
    ] = None,
) -> None:
    """Analyze a song: tempo and beats, key, loudness, descriptors, genre, mood, sections, lyrics
    (and with --midi, melody and bass notes to a MIDI file)."""
    if not file.is_file():
        raise _fail(f"{file}: no such file")
    lyrics_text = read_lyrics(lyrics, _fail)
    from soundstage.media.analysis.analyze import AnalysisError
    from soundstage.media.audio.errors import AudioDecodeError

    try:
        result = _run(file, lyrics_text, show=not as_json)
    except (AnalysisError, AudioDecodeError) as error:
        raise _fail(str(error) or f"{file} is not readable audio") from None
    extra: dict[str, object] = {}
    if midi is not None:
        from soundstage.media.analysis.notes import NoteTranscriptionUnavailable
        from soundstage.workflows.songs.pipeline import transcribe_to_midi

        try:
            n_melody, n_bass = transcribe_to_midi(file, midi, result.rhythm.bpm)
        except NoteTranscriptionUnavailable as error:
            raise _fail(str(error)) from None
        except (AnalysisError, AudioDecodeError) as error:
            raise _fail(str(error) or f"{file} is not readable audio") from None
        except OSError as error:
            raise _fail(f"cannot write {midi}: {error.strerror or error}") from None
        extra = {"midi_path": str(midi), "melody_notes": n_melody, "bass_notes": n_bass}
    if as_json:
        typer.echo(json.dumps({**result.to_dict(), **extra}))
    else:
        _report(file, result)
        if extra:
            out_console.print(
                f"MIDI: {midi} ({extra['melody_notes']} melody notes, "
                f"{extra['bass_notes']} bass notes)",
                highlight=False,
            )


def register(app: typer.Typer) -> None:
    app.command()(analyze)
