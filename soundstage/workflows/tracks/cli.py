"""`soundstage track`: a track-platform track from the terminal, straight into a folder.

The same pipeline as the server's `tracks.generate` job (music, preview, stems, cover,
tempo and key measured back), with no database, account or credits. The cover is
drawn in the style a series would get from `--style-seed` (palette and geometry
derived from it) with the chosen motif.
"""

from __future__ import annotations

import json
import secrets
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console

from soundstage.config import get_settings

console = Console(stderr=True)


def _body(data: dict[str, Any]):
    from soundstage.workflows.tracks.schemas import TrackCreate

    try:
        return TrackCreate.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in error.errors()
        )
        raise typer.BadParameter(problems) from None


def _reference(path: Path | None):
    if path is None:
        return None
    from soundstage.media.analysis.analyze import AnalysisError, reference_features
    from soundstage.workflows.tracks.genres import reference_from_features

    try:
        return reference_from_features(path.name, reference_features(path))
    except AnalysisError as error:
        raise typer.BadParameter(f"--reference: {error}") from None


def track(
    prompt: Annotated[str, typer.Argument(help="What the track is about")],
    duration: Annotated[float, typer.Option(help="Seconds, 5 to 600")] = 30.0,
    genre: Annotated[str, typer.Option(help="ambient, lofi, cinematic, … (docs/tracks.md)")] = (
        "ambient"
    ),
    key: Annotated[str | None, typer.Option(help="C, F#, Bb, …")] = None,
    mode: Annotated[str | None, typer.Option(help="major, minor, dorian, …")] = None,
    bpm: Annotated[float | None, typer.Option(help="40 to 220")] = None,
    seed: Annotated[int | None, typer.Option(help="Random when unset")] = None,
    style_strength: Annotated[float, typer.Option(help="0: the prompt, 1: the genre")] = 0.5,
    title: Annotated[str | None, typer.Option(help="From the prompt when unset")] = None,
    reference: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="Audio that steers it")
    ] = None,
    motif: Annotated[str, typer.Option(help="Cover motif: orbits, waves, prism, …")] = "orbits",
    style_seed: Annotated[int | None, typer.Option(help="Cover style seed (random if unset)")] = (
        None
    ),
    out: Annotated[Path, typer.Option(help="Output folder")] = Path("track-out"),
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary")] = False,
) -> None:
    """Make a track into a folder: track.mp3, track.wav, preview.mp3, stems.zip, track.mid,
    cover-v1.png."""
    from soundstage.workflows.ambient.pipeline import title_from_prompt
    from soundstage.workflows.tracks import style as styles
    from soundstage.workflows.tracks.genres import resolve_spec
    from soundstage.workflows.tracks.pipeline import CoverLook, generate_track_files

    body = _body({"prompt": prompt, "duration_s": duration, "genre": genre, "key": key,
                  "mode": mode, "bpm": bpm, "seed": seed, "style_strength": style_strength,
                  "title": title})  # fmt: skip
    if motif not in styles.MOTIF_NAMES:
        raise typer.BadParameter(f"--motif: use one of {', '.join(styles.MOTIF_NAMES)}")
    settings = get_settings()
    soundfont = settings.resolved_soundfont()
    if soundfont is None:
        raise typer.BadParameter(
            "no General-MIDI SoundFont found; run scripts/setup.sh or set SOUNDSTAGE_SOUNDFONT"
        )
    chosen_seed = body.seed if body.seed is not None else secrets.randbelow(2**31 - 1)
    spec = resolve_spec(
        prompt=body.prompt, duration_s=body.duration_s, seed=chosen_seed, genre_name=body.genre,
        style_strength=body.style_strength, bpm=body.bpm, key=body.key, mode=body.mode,
        reference=_reference(reference),
    )  # fmt: skip
    look_seed = style_seed if style_seed is not None else secrets.randbelow(2**63 - 1)
    look = CoverLook(styles.derive_palette(look_seed), styles.derive_geometry(look_seed), motif,
                     styles.stable_seed("cli-cover", chosen_seed))  # fmt: skip
    with (
        tempfile.TemporaryDirectory(prefix="soundstage-") as work,
        console.status("making the track…") as status,
    ):
        made = generate_track_files(
            spec, look, out, title=body.title or title_from_prompt(body.prompt),
            soundfont=soundfont, work_dir=Path(work), mp3_quality=settings.mp3_quality,
            preview_s=settings.track_preview_s, cover_size=settings.track_cover_size_px,
            on_progress=lambda f, stage: status.update(f"{stage} ({100 * f:.0f} %)"),
        )  # fmt: skip
    summary = {
        "files": {kind: str(path) for kind, path in made.files.items()},
        "spec": spec.to_dict(), "style_seed": look_seed, "preview": made.preview,
        "verification": made.verification(spec.key),
    }  # fmt: skip
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    check = summary["verification"]
    console.print(f"[bold]{out}[/]: {', '.join(sorted(made.files))}")
    console.print(
        f"asked {check['asked']['bpm']:g} BPM {check['asked']['key']} {check['asked']['mode']}; "
        f"heard {check['measured']['bpm']:g} BPM {check['measured']['key']} "
        f"{check['measured']['mode']}"
    )


def register(app: typer.Typer) -> None:
    app.command("track")(track)
