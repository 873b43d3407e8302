"""``mitrasim serve``: the web application on a local address."""

from __future__ import annotations

from typing import Optional

import typer

__all__ = ["register", "serve"]


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on. Anything but loopback needs --token."),
    port: int = typer.Option(8000, "--port", help="Port."),
    db: Optional[str] = typer.Option(None, "--db", help="Database URL: sqlite:///FILE (default in the user's data folder) or postgresql://..."),
    token: Optional[str] = typer.Option(None, "--token", help="Bearer token required on every API request (or $MITRASIM_WEB_TOKEN). Never defaulted."),
    workers: int = typer.Option(2, "--workers", help="Simulation worker processes."),
) -> None:
    """Serve the web page and JSON API (docs at /docs). Research and education only: not a medical device."""
    import uvicorn

    from mitrasim.web.app import create_app
    from mitrasim.web.settings import settings_from_env

    settings = settings_from_env(host=host, port=port, db_url=db, token=token, workers=workers)
    app = create_app(settings)
    typer.echo(f"mitrasim web on http://{host}:{port}/  (API docs: /docs)" + ("  token required" if settings.token else ""))
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", proxy_headers=False, server_header=False)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the ``mitrasim`` command line."""
    app.command("serve")(serve)
