"""Print pins (name==version) of mitrasim[all,peers] and its installed dependency closure: the constraints file.

Run from an environment where `pip install -e ".[all,peers]"` was done: `python3 benchmarks/constraints.py > constraints.txt`.
"""
import re
from importlib import metadata
from packaging.requirements import Requirement

def norm(n): return re.sub(r"[-_.]+", "-", n).lower()
seen = {}
def visit(name, extras=()):
    key = norm(name)
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return
    new = key not in seen
    seen.setdefault(key, (dist.metadata["Name"], dist.version, set()))
    ex = seen[key][2]
    added = set(extras) - ex
    if not new and not added:
        return
    ex |= set(extras)
    for r in dist.requires or []:
        req = Requirement(r)
        env_ok = True
        if req.marker is not None:
            env_ok = any(req.marker.evaluate({"extra": e}) for e in (list(ex) or [""])) if "extra" in str(req.marker) else req.marker.evaluate({"extra": ""})
        if env_ok:
            visit(req.name, tuple(req.extras))
visit("mitrasim", ("all", "peers"))
for key, (name, ver, _) in sorted(seen.items()):
    if key != "mitrasim":
        print(f"{name}=={ver}")
