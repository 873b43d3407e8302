"""``mitrasim serve``: the web application on a local address."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

__all__ = ["register", "serve"]


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on. Anything but loopback needs a token (--token-file)."),
    port: int = typer.Option(8000, "--port", help="Port."),
    db: Optional[str] = typer.Option(None, "--db", help="Database URL: sqlite:///FILE (default in the user's data folder) or postgresql://..."),
    token_file: Optional[Path] = typer.Option(None, "--token-file", help="File holding the bearer token required on every API request (or $MITRASIM_WEB_TOKEN / $MITRASIM_WEB_TOKEN_FILE); never on the command line, where the process list shows it."),
    allowed_host: Optional[list[str]] = typer.Option(None, "--allowed-host", help="Extra Host name to serve (e.g. a reverse proxy's); repeatable."),
    workers: int = typer.Option(2, "--workers", help="Simulation worker processes."),
) -> None:
    """Serve the web page and JSON API (docs at /docs). Research and education only: not a medical device."""
    from mitrasim.extras import require_extra

    require_extra("web", "mitrasim serve")
    import uvicorn

    from mitrasim.web.app import create_app
    from mitrasim.web.settings import settings_from_env

    settings = settings_from_env(token_file=token_file, host=host, port=port, db_url=db, workers=workers, allowed_hosts=tuple(allowed_host or ()))
    from mitrasim.web.db import open_database
    from mitrasim.web.settings import default_db_url

    database = open_database(settings.db_url, create_folder=settings.db_url == default_db_url())  # errors before the server starts
    app = create_app(settings, db=database)
    typer.echo(f"mitrasim web on http://{host}:{port}/  (API docs: /docs)" + ("  token required" if settings.token else ""))
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", proxy_headers=False, server_header=False)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the ``mitrasim`` command line."""
    app.command("serve")(serve)
