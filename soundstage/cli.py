"""Command-line door: `soundstage ...`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console

app = typer.Typer(help="Soundstage: a self-hosted AI music and video studio.", no_args_is_help=True)
users_app = typer.Typer(help="Manage accounts.", no_args_is_help=True)
db_app = typer.Typer(help="Manage the database.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(db_app, name="db")

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

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


@app.command()
def worker(
    queues: Annotated[
        str, typer.Option(help="Queues to serve, comma-separated: render (CPU-heavy), default")
    ] = "render,default",
    threads: Annotated[
        int | None, typer.Option(min=1, help="Jobs at once in this process [settings: job_workers]")
    ] = None,
    embedded: Annotated[
        bool, typer.Option("--embedded", help="Run jobs from the database alone, without a broker")
    ] = False,
) -> None:
    """Run jobs: a Celery worker for SOUNDSTAGE_BROKER_URL (scale-out), or --embedded."""
    import logging

    from soundstage.app import prepare
    from soundstage.config import get_settings
    from soundstage.platform.db import Database
    from soundstage.platform.jobs.registry import QUEUES
    from soundstage.platform.models import import_platform_models
    from soundstage.platform.storage import open_storage
    from soundstage.workflows import import_models, register_job_handlers

    settings = get_settings()
    chosen = [q.strip() for q in queues.split(",") if q.strip()]
    unknown = sorted(set(chosen) - set(QUEUES))
    if unknown or not chosen:
        _fail(
            f"--queues: unknown queue(s) {', '.join(unknown) or '(none)'}; use {', '.join(QUEUES)}"
        )
    if not embedded and not settings.broker_url:
        _fail("SOUNDSTAGE_BROKER_URL is not set: set it (redis://… or amqp://…) or use --embedded")
    if not embedded:
        from soundstage.app import require_shared_secret

        try:
            require_shared_secret(settings)
        except ValueError as exc:
            _fail(str(exc))
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    import_platform_models()
    import_models()
    prepare(settings)
    register_job_handlers()
    db = Database.from_settings(settings)
    storage = open_storage(settings)
    count = threads or settings.job_workers
    if embedded:
        _run_embedded(db, settings, storage, count)
        return
    from soundstage.platform.jobs.celery_runner import CeleryWorker

    console.print(f"Soundstage worker: queues {', '.join(chosen)}, {count} thread(s)")
    CeleryWorker(db, settings, storage, count).start(chosen)


def _run_embedded(db, settings, storage, threads: int) -> None:
    """The embedded runner in the foreground until Ctrl-C (one runner per database)."""
    import signal
    import threading

    from soundstage.platform.jobs.runner import EmbeddedRunner

    runner = EmbeddedRunner(db, settings, storage, workers=threads)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    runner.start()
    console.print(f"Soundstage embedded worker: {threads} thread(s); Ctrl-C stops it")
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        runner.stop()


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


@contextmanager
def _database() -> Iterator[Session]:
    """A session on the configured database, migrated first (the CLI's own door, no server)."""
    from soundstage.app import prepare
    from soundstage.config import get_settings
    from soundstage.platform.db import Database

    settings = get_settings()
    prepare(settings)
    db = Database.from_settings(settings)
    try:
        with db.session() as session:
            yield session
    finally:
        db.dispose()


def _fail(message: str, exc: Exception | None = None) -> NoReturn:
    err_console.print(f"[red]{message}[/]" + (f" {exc}" if exc else ""))
    raise typer.Exit(1) from exc


@users_app.command("create")
def users_create(
    email_arg: Annotated[
        str | None, typer.Argument(metavar="EMAIL", help="Email address (the login)")
    ] = None,
    email: Annotated[str | None, typer.Option("--email", help="Same as EMAIL")] = None,
    password: Annotated[
        str | None, typer.Option(help="Password (asked for, hidden, when omitted)")
    ] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Make it an administrator")] = False,
    role: Annotated[str | None, typer.Option(help="Role: user or admin")] = None,
) -> None:
    """Create an account, whether or not public registration is open.

    The first administrator is made this way: `soundstage users create EMAIL --admin`.
    """
    from soundstage.platform.accounts import EmailTaken, create_user

    address = email_arg or email
    if not address:
        _fail("Cannot create user: give the EMAIL")
    if admin and role not in (None, "admin"):
        _fail(f"Cannot create user: --admin contradicts --role {role}")
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with _database() as session:
            user = create_user(
                session, address, password, role="admin" if admin else role or "user"
            )
    except (ValueError, EmailTaken) as exc:
        _fail("Cannot create user:", exc)
    console.print(f"[green]Created user[/] {user.email} (id {user.id}, role {user.role})")


@users_app.command("list")
def users_list(
    search: Annotated[str | None, typer.Option(help="Only emails containing this")] = None,
    role: Annotated[str | None, typer.Option(help="Only this role (user or admin)")] = None,
) -> None:
    """List the accounts, oldest first."""
    from rich.table import Table

    from soundstage.platform.accounts.admin import users_query

    with _database() as session:
        users = list(session.scalars(users_query(search, role)))
    table = Table("Email", "Role", "Active", "Created (UTC)", "Id")
    for user in users:
        created = user.created_at.strftime("%Y-%m-%d %H:%M")
        table.add_row(user.email, user.role, "yes" if user.is_active else "no", created, user.id)
    console.print(table)
    console.print(f"{len(users)} account(s)")


@users_app.command("set-role")
def users_set_role(
    email: Annotated[str, typer.Argument(help="Email of the account")],
    role: Annotated[str, typer.Argument(help="user or admin")],
) -> None:
    """Give an account a role (e.g. make or unmake an administrator)."""
    from soundstage.platform.accounts.admin import set_role_by_email
    from soundstage.platform.errors import NotFound

    try:
        with _database() as session:
            user = set_role_by_email(session, email, role)
            session.commit()
    except (ValueError, NotFound) as exc:
        _fail("Cannot set the role:", exc)
    console.print(f"[green]{user.email}[/] is now {user.role}")


@users_app.command("token")
def users_token(
    email: Annotated[str, typer.Argument(help="Email of the account the token acts as")],
    name: Annotated[str, typer.Option(help="What the token is for")] = "cli",
    days: Annotated[
        int | None, typer.Option(min=1, help="Days until it expires (never, when omitted)")
    ] = None,
) -> None:
    """Create an API token for an account and print it (once) for scripts and `soundstage api`."""
    from soundstage.config import get_settings
    from soundstage.platform.accounts import get_user_by_email
    from soundstage.platform.accounts.tokens import create_api_token
    from soundstage.platform.errors import AppError

    try:
        with _database() as session:
            user = get_user_by_email(session, email)
            if user is None:
                _fail(f"Cannot create a token: no account with the email {email}")
            row, token = create_api_token(session, get_settings(), user.id, name, days)
            session.commit()
    except AppError as exc:
        _fail("Cannot create a token:", exc)
    err_console.print(f"API token {row.prefix}… for {user.email}; it is shown only now:")
    typer.echo(token)


@app.command("api")
def api_call(
    method: Annotated[str, typer.Argument(help="GET, POST, PATCH, PUT or DELETE")],
    path: Annotated[str, typer.Argument(help="Path on the server, e.g. /api/auth/me")],
    data: Annotated[str | None, typer.Option("--json", help="JSON request body")] = None,
    url: Annotated[
        str | None,
        typer.Option(envvar="SOUNDSTAGE_API_URL", help="Server address [default: from settings]"),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(envvar="SOUNDSTAGE_API_TOKEN", help="API token (ss_...) to authenticate"),
    ] = None,
) -> None:
    """Call a running Soundstage server's API with an API token and print the JSON answer.

    Example: `SOUNDSTAGE_API_TOKEN=ss_... soundstage api GET /api/jobs`.
    """
    import json

    import httpx

    from soundstage.config import get_settings

    if not path.startswith("/"):
        _fail(f"PATH must start with /: {path}")
    try:
        body = json.loads(data) if data is not None else None
    except json.JSONDecodeError as exc:
        _fail("--json is not valid JSON:", exc)
    if url is None:
        settings = get_settings()
        url = f"http://{settings.host}:{settings.port}"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        r = httpx.request(method.upper(), url.rstrip("/") + path, json=body, headers=headers)
    except httpx.HTTPError as exc:
        _fail(f"Cannot reach {url}:", exc)
    try:
        typer.echo(json.dumps(r.json(), indent=2))
    except ValueError:
        typer.echo(r.text)
    if r.status_code >= 400:
        err_console.print(f"[red]HTTP {r.status_code}[/]")
        raise typer.Exit(1)


def _register_workflow_commands() -> None:
    from soundstage.workflows.ambient.cli import register as ambient
    from soundstage.workflows.music_video.cli import register as music_video
    from soundstage.workflows.songs.cli import register as songs
    from soundstage.workflows.tracks.cli import register as tracks

    ambient(app)
    songs(app)
    music_video(app)
    tracks(app)


_register_workflow_commands()
