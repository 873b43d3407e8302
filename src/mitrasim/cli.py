"""The ``mitrasim`` command line: a thin layer over the Python API.

Each area registers its commands from its own ``commands.py`` (``register(app)``).
Bad input is reported as one line naming the field, the value and the allowed
range, with exit code 2 and no traceback.
"""

from __future__ import annotations

import sys

import typer

from mitrasim.errors import InputError

app = typer.Typer(
    name="mitrasim",
    help="Simulate mitral regurgitation and its repair by transcatheter edge-to-edge repair (TEER). "
    "Research and education only: not a medical device.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _main_callback() -> None:
    """mitrasim: mitral regurgitation and TEER, from pressures and flows to the patient's way home."""


def _register_all() -> None:
    from mitrasim.cohort import commands as cohort_commands
    from mitrasim.echo import commands as echo_commands
    from mitrasim.pathway import commands as pathway_commands
    from mitrasim.physiology import commands as physiology_commands
    from mitrasim.procedure import commands as procedure_commands
    from mitrasim.web import commands as web_commands

    physiology_commands.register(app)
    echo_commands.register(app)
    pathway_commands.register(app)
    procedure_commands.register(app)
    web_commands.register(app)
    cohort_commands.register(app)


_register_all()


def fail(message: str, code: int = 2) -> None:
    """Print a one-line error to stderr and exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def main(argv: list[str] | None = None) -> None:
    try:
        app(args=argv, standalone_mode=True)
    except InputError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
