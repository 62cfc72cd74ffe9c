"""Command-line door: `soundstage ...`."""

from __future__ import annotations

import typer

app = typer.Typer(help="Soundstage: a self-hosted AI music and video studio.", no_args_is_help=True)


@app.command()
def version() -> None:
    """Print the installed version."""
    from soundstage import __version__

    typer.echo(__version__)
