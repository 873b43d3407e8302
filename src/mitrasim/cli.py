"""The ``mitrasim`` command line: a thin layer over the Python API.

Each area registers its commands from its own ``commands.py`` (``register(app)``).
Bad input is reported as one line naming the field, the value and the allowed
range, with exit code 2 and no traceback: :func:`run` is the one renderer
(:class:`~mitrasim.errors.InputError`, the option parser's usage errors, files that
cannot be read or written, Ctrl-C).  A state the engine could not compute is
reported by the command that asked for it, with its reason, also with exit 2.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable
from typing import Any

import typer
from typer._click import exceptions as _tclick
from typer._click.core import Context
from typer.core import TyperGroup

from mitrasim.errors import InputError

#: Command name -> the module whose ``register(app)`` defines it.  Modules are imported only when
#: their command runs (or for ``--help``), so ``mitrasim simulate`` does not pay for the web server's
#: or the care plan's imports.
COMMANDS: dict[str, str] = {
    "demo": "mitrasim.demo",
    "simulate": "mitrasim.physiology.commands",
    "calibrate": "mitrasim.procedure.calibrate_commands",
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


#: Commands about one case: they run inside :func:`mitrasim.physiology.dispatch.one_case_kernels`
#: (``demo`` does so itself), so that on a fresh install their small batches use the one-lane engine
#: kernel and a first ``plan`` then ``procedure`` compile one kernel, not the group kernels and then
#: the one-lane kernel.
ONE_CASE_COMMANDS = frozenset({"plan", "procedure", "calibrate"})


def _in_one_case(callback: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        from mitrasim.physiology.dispatch import one_case_kernels

        with one_case_kernels():
            return callback(*args, **kwargs)

    return run


class _LazyGroup(TyperGroup):
    """A command group that imports a command's module when the command is needed."""

    def list_commands(self, ctx: Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Context, name: str):
        module = COMMANDS.get(name)
        if module is None:
            return None
        sub = typer.Typer()
        sub.callback()(lambda: None)
        importlib.import_module(module).register(sub)
        cmd = typer.main.get_group(sub).get_command(ctx, name)
        if name in ONE_CASE_COMMANDS and cmd is not None and cmd.callback is not None:
            cmd.callback = _in_one_case(cmd.callback)
        return cmd


app = typer.Typer(
    name="mitrasim",
    cls=_LazyGroup,
    help="Simulate mitral regurgitation and its repair by transcatheter edge-to-edge repair (TEER). "
    "Research and education only: not a medical device.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from mitrasim import __version__

        typer.echo(f"mitrasim {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main_callback(
    version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True, help="print the version and exit"),
) -> None:
    """mitrasim: mitral regurgitation and TEER, from pressures and flows to the patient's way home."""
    from mitrasim.threads import engine_threads

    engine_threads()  # a bad MITRASIM_THREADS is refused before any command writes anything


# typer (>= 0.2x) vendors its own click as ``typer._click`` and no longer installs ``click``: the CLI uses
# typer's exception classes only, so it runs where ``click`` is absent.
_USAGE_ERRORS = (_tclick.UsageError,)
_CLICK_ERRORS = (_tclick.ClickException,)
_ABORTS = (typer.Abort,)
_EXITS = (typer.Exit,)
_NO_ARGS = (_tclick.NoArgsIsHelpError,)

EXIT_INPUT = 2
"""Exit code of every refused input (and of a result that is not a number), as click's usage errors."""
EXIT_INTERRUPTED = 130


def render_error(exc: BaseException) -> str | None:
    """The one line shown for an expected failure, or ``None`` for a bug (which keeps its traceback)."""
    from mitrasim.errors import one_line

    if isinstance(exc, InputError):
        return str(exc)
    if isinstance(exc, _USAGE_ERRORS):
        ctx = getattr(exc, "ctx", None)
        where = f"{ctx.command_path}: " if ctx is not None else ""
        return one_line(f"{where}{exc.format_message()} (see --help)")
    if isinstance(exc, _CLICK_ERRORS):
        return one_line(exc.format_message())
    if isinstance(exc, RecursionError):  # a YAML/JSON document nested thousands of levels deep (or self-referencing)
        return "input: nested too deeply (or refers to itself) to be read; a case, trial or protocol file is a few levels deep"
    if isinstance(exc, UnicodeDecodeError):
        return one_line(f"input: not UTF-8 text ({exc.reason} at byte {exc.start}); save the file as UTF-8")
    if isinstance(exc, OSError) and (exc.filename is not None or isinstance(exc, (PermissionError, FileNotFoundError, IsADirectoryError, NotADirectoryError))):
        name = exc.filename if exc.filename is not None else "file"
        return one_line(f"{name}: {exc.strerror or exc}")
    return None


def main(argv: list[str] | None = None) -> None:
    """Run the command line; expected failures print one line (exit 2), Ctrl-C exits 130."""
    try:
        rc = app(args=argv, standalone_mode=False)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except _ABORTS:
        typer.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except _EXITS as exc:
        sys.exit(exc.exit_code)
    except _NO_ARGS as exc:  # a group or command run without arguments: its help
        typer.echo(exc.ctx.get_help() if exc.ctx is not None else "see mitrasim --help")
        sys.exit(0)
    except Exception as exc:  # noqa: BLE001 - rendered, or re-raised as a bug
        line = render_error(exc)
        if line is None:
            raise
        typer.echo(f"error: {line}", err=True)
        sys.exit(EXIT_INPUT)
    sys.exit(rc if isinstance(rc, int) else 0)
