"""Command-line door: `soundstage ...`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(help="Soundstage: a self-hosted AI music and video studio.", no_args_is_help=True)
users_app = typer.Typer(help="Manage accounts.", no_args_is_help=True)
db_app = typer.Typer(help="Manage the database.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(db_app, name="db")

console = Console()
err_console = Console(stderr=True)


@app.command()
def version() -> None:
    """Print the installed version."""
    from soundstage import __version__

    typer.echo(__version__)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [settings: host]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [settings: port]")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Job runner threads [settings: job_workers]")
    ] = None,
) -> None:
    """Run the web server and the embedded job runner in one process."""
    import logging

    import uvicorn

    from soundstage.app import create_app
    from soundstage.config import get_settings

    settings = get_settings()
    if workers is not None:
        settings = settings.model_copy(update={"job_workers": workers})
    host, port = host or settings.host, port or settings.port
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    console.print(f"Soundstage on [bold]http://{host}:{port}[/] (API docs at /docs)")
    uvicorn.run(create_app(settings), host=host, port=port)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database to the latest schema."""
    from soundstage.app import prepare
    from soundstage.config import get_settings
    from soundstage.platform.db import current_revisions

    settings = get_settings()
    prepare(settings)
    revisions = ", ".join(sorted(current_revisions(settings.resolved_database_url)))
    console.print(f"[green]Database is up to date[/] (revision {revisions})")


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Email address (the login)")],
    password: Annotated[
        str | None, typer.Option(help="Password (asked for, hidden, when omitted)")
    ] = None,
    role: Annotated[str, typer.Option(help="Role: user or admin")] = "user",
) -> None:
    """Create an account, whether or not public registration is open."""
    from soundstage.app import prepare
    from soundstage.config import get_settings
    from soundstage.platform.accounts import EmailTaken, create_user
    from soundstage.platform.db import Database

    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    settings = get_settings()
    prepare(settings)
    db = Database(settings.resolved_database_url)
    try:
        with db.session() as session:
            user = create_user(session, email, password, role=role)
    except (ValueError, EmailTaken) as exc:
        err_console.print(f"[red]Cannot create user:[/] {exc}")
        raise typer.Exit(1) from exc
    finally:
        db.dispose()
    console.print(f"[green]Created user[/] {user.email} (id {user.id}, role {user.role})")


def _register_workflow_commands() -> None:
    from soundstage.workflows.ambient.cli import register as ambient
    from soundstage.workflows.music_video.cli import register as music_video
    from soundstage.workflows.songs.cli import register as songs

    ambient(app)
    songs(app)
    music_video(app)


_register_workflow_commands()
