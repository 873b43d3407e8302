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
    keys = [s.key for s in citations.all_sources()]
    assert len(keys) == len(set(keys))
    assert "regazzoni2022" in keys and "zoghbi2017" in keys
