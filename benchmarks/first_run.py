"""Where a first ``mitrasim demo`` on an empty compile cache spends its time (issue 19, goal 3).

Runs the command in a fresh process with ``MITRASIM_CACHE_DIR`` pointing at a new temporary
folder (the shared cache is never touched), records every numba compilation with the CPU and
wall seconds it took (numba's ``numba:compile`` events; nested compilations of called helpers are
reported inside their caller's), and splits the process's CPU time into: interpreter and imports,
compilation by function, and the rest (the actual computation and printing).  Then runs the same
command again on the now filled cache for comparison.

    PYTHONPATH=src python benchmarks/first_run.py [--command demo] [--json out.json]

CPU seconds are the process's own (user + system); on a shared machine they are inflated less
than wall seconds, which are given beside them with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r'''
import json, os, sys, time, resource
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
t0_cpu, t0 = cpu(), time.perf_counter()
from numba.core import event as ev
events, stack = [], []
class L(ev.Listener):
    def on_start(self, event):
        d = event.data["dispatcher"]
        events.append({"function": d.py_func.__module__ + "." + d.py_func.__name__, "depth": len(stack)})
        stack.append((events[-1], cpu(), time.perf_counter()))
    def on_end(self, event):
        e, c, w = stack.pop()
        e.update(cpu_s=cpu() - c, wall_s=time.perf_counter() - w)
ev.register("numba:compile", L())
import io, rich.console
import mitrasim.cli
from mitrasim.physiology import dispatch
imports_cpu = cpu() - t0_cpu
out = io.StringIO()
notices = []
dispatch.compile_notice = notices.append
argv = sys.argv[1:]
if argv[0] == "demo":
    from mitrasim.demo import run_demo
    run_demo(rich.console.Console(file=out, width=120))
else:
    sys.stdout = out
    try:
        mitrasim.cli.main(argv)
    except SystemExit:
        pass
    sys.stdout = sys.__stdout__
total_cpu, wall = cpu() - t0_cpu, time.perf_counter() - t0
print(json.dumps({"total_cpu_s": total_cpu, "wall_s": wall, "imports_cpu_s": imports_cpu, "compile_events": events,
                  "notices": notices, "modules": len(sys.modules)}))
'''


def run_once(command: list[str], cache: str) -> dict:
    env = {**os.environ, "MITRASIM_CACHE_DIR": cache}
    p = subprocess.run([sys.executable, "-c", CHILD, *command], env=env, capture_output=True, text=True, check=True)
    r = json.loads(p.stdout.strip().splitlines()[-1])
    top = [e for e in r["compile_events"] if e["depth"] == 0]
    r["compile_cpu_s"] = sum(e["cpu_s"] for e in top)
    r["rest_cpu_s"] = r["total_cpu_s"] - r["imports_cpu_s"] - r["compile_cpu_s"]
    r["kernels_cached"] = sorted({f.name.split("-")[0] for f in Path(cache).rglob("*.nbi")})
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--command", default="demo", help="the mitrasim command line to run, e.g. 'demo' or 'simulate --json'")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    command = args.command.split()
    with tempfile.TemporaryDirectory() as cache:
        out = {"command": command, "loadavg_start": os.getloadavg(), "cold": run_once(command, cache)}
        out["warm"] = run_once(command, cache)
    out["loadavg_end"] = os.getloadavg()
    for k in ("cold", "warm"):
        r = out[k]
        print(f"{k}: total {r['total_cpu_s']:.2f} CPU-s ({r['wall_s']:.1f} s wall): imports {r['imports_cpu_s']:.2f}, "
              f"compilation {r['compile_cpu_s']:.2f}, rest {r['rest_cpu_s']:.2f}")
        for e in r["compile_events"]:  # in the order compilation started, a callee under its caller
            if e["depth"] <= 1 and e["cpu_s"] >= 0.05:
                print(f"   {'  ' * e['depth']}{e['function']}: {e['cpu_s']:.2f} CPU-s ({e['wall_s']:.1f} s wall)")
    print(f"load average {out['loadavg_start']} -> {out['loadavg_end']}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
