"""The ``mitrasim`` command line: a thin layer over the Python API.

Each area registers its commands from its own ``commands.py`` (``register(app)``).
Bad input is reported as one line naming the field, the value and the allowed
range, with exit code 2 and no traceback.
"""

from __future__ import annotations

import importlib
import sys

import click
import typer
from typer.core import TyperGroup

from mitrasim.errors import InputError

#: Command name -> the module whose ``register(app)`` defines it.  Modules are imported only when
#: their command runs (or for ``--help``), so ``mitrasim simulate`` does not pay for the web server's
#: or the care plan's imports.
COMMANDS: dict[str, str] = {
    "demo": "mitrasim.physiology.commands",
    "simulate": "mitrasim.physiology.commands",
    "grade": "mitrasim.echo.commands",
    "mvarc": "mitrasim.echo.commands",
    "echo-thresholds": "mitrasim.echo.commands",
    "plan": "mitrasim.procedure.commands",
    "procedure": "mitrasim.procedure.commands",
    "trial": "mitrasim.cohort.commands",
    "report": "mitrasim.cohort.commands",
    "validate": "mitrasim.validate.commands",
    "careplan": "mitrasim.pathway.commands",
    "serve": "mitrasim.web.commands",
}


class _LazyGroup(TyperGroup):
    """A command group that imports a command's module when the command is needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str):
        module = COMMANDS.get(name)
        if module is None:
            return None
        sub = typer.Typer()
        sub.callback()(lambda: None)
        importlib.import_module(module).register(sub)
        return typer.main.get_group(sub).get_command(ctx, name)


app = typer.Typer(
    name="mitrasim",
    cls=_LazyGroup,
    help="Simulate mitral regurgitation and its repair by transcatheter edge-to-edge repair (TEER). "
    "Research and education only: not a medical device.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _main_callback() -> None:
    """mitrasim: mitral regurgitation and TEER, from pressures and flows to the patient's way home."""


def main(argv: list[str] | None = None) -> None:
    try:
        app(args=argv, standalone_mode=True)
    except InputError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
