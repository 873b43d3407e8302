"""Command-line commands of the circulation engine: ``simulate`` and ``demo``."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    pass
