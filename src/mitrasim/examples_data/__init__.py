"""The five example cases, shipped inside the package (copies of ``examples/*.yaml``).

Read through :mod:`importlib.resources`, so they work from a wheel or any
non-editable install; ``tests/test_procedure_errors_cli.py`` checks each copy
is identical to the one in the source tree's ``examples/`` folder.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

__all__ = ["EXAMPLES", "example_text", "example_data", "load_example"]

EXAMPLES = ("p2_flail", "coapt_secondary", "small_valve", "commissural_a3p3", "barlow")
"""Shipped example cases, by name (no paths from users)."""


def example_text(name: str) -> str:
    """The YAML text of the shipped example ``name`` (one of :data:`EXAMPLES`)."""
    from mitrasim.errors import InputError

    if name not in EXAMPLES:
        raise InputError("name", name, "one of " + ", ".join(EXAMPLES))
    return resources.files(__name__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")


def example_data(name: str) -> dict[str, Any]:
    """The shipped example ``name`` as parsed YAML (a plain mapping)."""
    import yaml

    return yaml.safe_load(example_text(name))


def load_example(name: str) -> Any:
    """The shipped example ``name`` as a validated :class:`mitrasim.case.Case`."""
    from mitrasim.case import parse_case

    return parse_case(example_data(name), source=f"{name}.yaml")
