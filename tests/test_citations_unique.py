"""Every citation key is registered once: importing every module must not clash."""

import importlib
import pkgutil

import mitrasim
from mitrasim import citations


def test_all_modules_import_without_citation_clash():
    for mod in pkgutil.walk_packages(mitrasim.__path__, "mitrasim."):
        if mod.name.endswith("__main__") or ".migrations" in mod.name:
            continue
        importlib.import_module(mod.name)
    keys = {s.key for s in citations.all_sources()}
    assert "regazzoni2022" in keys and "zoghbi2017" in keys


def test_a_key_registered_twice_with_a_different_text_is_refused():
    """The registry is keyed by the citation key, so a clash can only be caught at registration."""
    import pytest

    src = citations.get("regazzoni2022")
    assert citations.register(src.key, src.text, src.doi, src.note) == src  # the same text again: accepted
    with pytest.raises(ValueError, match="registered twice"):
        citations.register(src.key, src.text + " (another edition)", src.doi)
    assert citations.get("regazzoni2022") == src


def test_each_source_is_registered_in_one_place():
    import ast
    from collections import defaultdict
    from pathlib import Path

    where = defaultdict(list)
    for f in Path(mitrasim.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "register"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "citations"
                    and node.args and isinstance(node.args[0], ast.Constant)):
                where[node.args[0].value].append(f.name)
    twice = {k: v for k, v in where.items() if len(v) > 1}
    assert not twice, twice
