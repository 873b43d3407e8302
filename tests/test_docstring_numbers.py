"""Prose refers to the constants, never restates them, and states defaults the code really has.

* Citation notes name the model constants they back (``mitrasim.procedure.calibration.FIT_RANGE``):
  every name must resolve, and the note must not repeat the constant's value (the number lives once).
* Docstrings that state a default (```name`` ... (default 1)``) must agree with the signature or
  field they describe.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re
from typing import Any, Iterator

import pytest

import mitrasim
from mitrasim import citations


def _modules() -> list[Any]:
    out = []
    for m in pkgutil.walk_packages(mitrasim.__path__, "mitrasim."):
        if m.name.endswith("__main__") or ".web.migrations" in m.name:
            continue
        out.append(importlib.import_module(m.name))
    return out


MODULES = _modules()

_DOTTED = re.compile(r"\bmitrasim(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
_CONSTANT = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")


def _resolve(dotted: str) -> tuple[Any, Any]:
    """(module, attribute or None) of ``mitrasim.a.b.NAME`` (or of a module path)."""
    parts = dotted.split(".")
    for k in range(len(parts), 0, -1):
        try:
            mod = importlib.import_module(".".join(parts[:k]))
        except ImportError:
            continue
        obj: Any = mod
        for p in parts[k:]:
            obj = getattr(obj, p)
        return mod, (obj if k < len(parts) else None)
    raise AssertionError(f"{dotted} is no module")


def _numbers(value: Any) -> Iterator[float]:
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        yield float(value)
    elif isinstance(value, str) and value.isdigit():
        yield float(value)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _numbers(v)
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _numbers(v)


def _written(x: float) -> re.Pattern[str]:
    """The number as prose would write it (``0.93``, ``112``), not inside a longer number."""
    text = f"{x:g}"
    return re.compile(rf"(?<![\d.]){re.escape(text)}(?![\d]|\.\d)")


def _restated(note: str, constant: Any) -> list[float]:
    """Values of ``constant`` written out in ``note`` (one-digit integers are too common to tell)."""
    return [x for x in _numbers(constant) if (abs(x) >= 10 or x != int(x)) and _written(x).search(note)]


NOTES = [(s.key, s.note) for s in citations.all_sources() if s.note]


@pytest.mark.parametrize("key,note", [n for n in NOTES if "mitrasim." in n[1] or _CONSTANT.search(n[1])], ids=lambda v: v if isinstance(v, str) and " " not in v else "")
def test_citation_notes_name_constants_that_exist_and_do_not_restate_them(key, note):
    mods, named = [], []
    for dotted in _DOTTED.findall(note):
        mod, obj = _resolve(dotted.rstrip("."))
        mods.append(mod)
        if obj is not None and not inspect.ismodule(obj):
            named.append((dotted, obj))
    for name in _CONSTANT.findall(note):
        owners = [m for m in mods if hasattr(m, name)]
        assert owners, f"{key}: {name} is not a constant of the modules the note names"
        named.append((name, getattr(owners[0], name)))
    for name, obj in named:
        assert not _restated(note, obj), f"{key}: the note restates {name} = {obj!r}"


def test_the_restated_check_can_fail():
    """The check above catches a note that writes the constant out (and not a longer number)."""
    assert _restated("over FIT_RANGE (0.675-0.93)", (0.675, 0.93)) == [0.675, 0.93]
    assert _restated("France 15 and 112", {"FR": ("15", "112")}) == [15.0, 112.0]
    assert _restated("n = 1,041 and 0.935", 0.93) == []


_DEFAULT = re.compile(r"``([a-z_][a-z0-9_]*)``[^`]{0,160}?\(default:? (-?\d+(?:\.\d+)?)(?![\d.–-])")


def _defaults_of(obj: Any) -> dict[str, Any]:
    """Parameter or field defaults of a function or class."""
    out: dict[str, Any] = {}
    if inspect.isclass(obj):
        fields = getattr(obj, "model_fields", None)
        if isinstance(fields, dict):
            out.update({n: f.default for n, f in fields.items()})
        if dataclasses.is_dataclass(obj):
            out.update({f.name: f.default for f in dataclasses.fields(obj) if f.default is not dataclasses.MISSING})
        obj = obj.__init__
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return out
    out.update({n: p.default for n, p in sig.parameters.items() if p.default is not inspect.Parameter.empty})
    return out


def _documented() -> list[tuple[str, str, float, dict[str, Any]]]:
    """(where, name, stated default, defaults in scope) for every ``name`` ... (default X) in a docstring."""
    rows = []
    for mod in MODULES:
        members = [o for _, o in inspect.getmembers(mod) if (inspect.isfunction(o) or inspect.isclass(o)) and o.__module__ == mod.__name__]
        methods = [f for c in members if inspect.isclass(c) for f in vars(c).values() if inspect.isfunction(f)]
        scope: dict[str, Any] = {}
        for o in members + methods:
            scope.update(_defaults_of(o))
        for o in [mod] + members + methods:
            doc = inspect.getdoc(o) or ""
            own = scope if inspect.ismodule(o) else {**scope, **_defaults_of(o)}
            for name, value in _DEFAULT.findall(doc):
                rows.append((f"{mod.__name__}:{getattr(o, '__qualname__', '')}", name, float(value), own))
    return rows


DOCUMENTED = _documented()


def test_docstring_defaults_are_found():
    """The pattern finds a stated default (also across a line break), not a range; and the package
    has at least one, so the check below is not vacuous."""
    assert _DEFAULT.findall("An optional ``scale``\n  (default 1) scales.") == [("scale", "1")]
    assert _DEFAULT.findall("every ``grid`` point (default 0.60–1.00, step 0.025)") == []
    assert DOCUMENTED


@pytest.mark.parametrize("where,name,stated,scope", DOCUMENTED, ids=[f"{w}:{n}" for w, n, _, _ in DOCUMENTED])
def test_a_docstring_default_is_the_code_default(where, name, stated, scope):
    assert name in scope, f"{where}: the docstring gives a default for {name}, which has none here"
    assert float(scope[name]) == stated, f"{where}: docstring says {name} defaults to {stated:g}, the code to {scope[name]!r}"


def test_the_threshold_tables_prose_names_rows_not_values():
    """``echo/thresholds.py`` is the one table of grading cut-offs: its module docstring refers to
    the rows (by kind), it does not write out a cut-off with its unit (``0.30 cm²``, ``45 mL``)."""
    from mitrasim.echo import thresholds

    doc = thresholds.__doc__ or ""
    units = {"cm2": "cm²", "ml": "mL", "pct": "%", "cm": "cm", "mmhg": "mmHg", "m_s": "m/s"}
    for r in thresholds.THRESHOLDS:
        unit = next((u for suffix, u in units.items() if r.parameter.endswith("_" + suffix)), None)
        if unit is None:
            continue
        for text in {f"{r.value:g}", f"{r.value:.2f}", f"{r.value:.1f}"}:
            assert not re.search(rf"(?<![\d.]){re.escape(text)}\s*{re.escape(unit)}", doc), (r.parameter, r.kind, text)
