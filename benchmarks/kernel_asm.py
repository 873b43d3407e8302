"""The instruction mix of the engine's compiled lane loops (the 16-lane orifice-law group kernel).

Compiles the kernel in an empty temporary compile cache (numba cannot show the code of a kernel
loaded from its cache), through ``dispatch`` as a batch does, takes its x86 assembly and lists every
innermost loop that runs on 512-bit registers, with its instructions per iteration (one iteration =
8 lanes) by kind: FMA, multiply, add/subtract, divide, square root, max/min, compare, blend and
masked moves, mask-register logic, moves, gathers; and its memory operands: all, on the stack
(register spills and their reloads) and the stores among them.  The loop with the most FMAs is a
beat's whole RK4 step without metrics (``_rk4_step``), the next stages 2–4 after a stored first
stage (``_rk4_rest``), the one with the most compares the beat metrics (``_accumulate``).

Run from the repository root::

    PYTHONPATH=src python benchmarks/kernel_asm.py [--save engine.s]
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def kind(ins: str) -> str:
    """The class of one AT&T instruction line."""
    op = ins.split()[0]
    if op.startswith(("vfmadd", "vfmsub", "vfnmadd", "vfnmsub")):
        return "fma"
    if op.startswith("vmul"):
        return "mul"
    if op.startswith(("vadd", "vsub")):
        return "add"
    if op.startswith("vdiv"):
        return "div"
    if op.startswith("vsqrt"):
        return "sqrt"
    if op.startswith(("vmax", "vmin")):
        return "max/min"
    if op.startswith("vcmp"):
        return "compare"
    if op.startswith(("vblend", "vpblend")) or (op.startswith("vmov") and "{%k" in ins):
        return "blend/masked move"
    if op.startswith("k"):
        return "mask logic"
    if op.startswith("vgather"):
        return "gather"
    if op.startswith(("vmov", "vbroadcast")):
        return "move"
    return "other"


def innermost_loops(asm: str) -> list[list[str]]:
    """Bodies (instruction lines) of the innermost loops: a label to a backward jump with no such pair inside."""
    lines = asm.splitlines()
    label = {m.group(1): i for i, ln in enumerate(lines) if (m := re.match(r"^(\.?[\w$.]+):", ln))}
    loops = []
    for i, ln in enumerate(lines):
        m = re.match(r"\s+j\w+\s+(\.?[\w$.]+)", ln)
        if m and m.group(1) in label and label[m.group(1)] < i:
            loops.append((label[m.group(1)], i))
    inner = [(s, e) for s, e in loops if not any(s <= s2 and e2 <= e and (s2, e2) != (s, e) for s2, e2 in loops)]
    out = []
    for s, e in sorted(inner):
        body = [x.strip() for x in lines[s:e + 1]]
        out.append([b for b in body if b and not b.startswith((".", "#")) and not b.endswith(":")])
    return out


def mix(body: list[str]) -> dict:
    """Counts of one loop body."""
    counts = collections.Counter(kind(b) for b in body)
    stack = [b for b in body if "(%rsp)" in b or "(%rbp)" in b]
    stores = [b for b in body if b.split()[0].startswith("vmov") and re.sub(r"\s*\{.*", "", b).rstrip().endswith(")")]  # masked too
    return {"instructions": len(body), "on_zmm": sum("zmm" in b for b in body), **dict(counts),
            "memory_operands": sum("(" in b for b in body), "stack_operands": len(stack),
            "stores": len(stores), "stack_stores": sum(s in stack for s in stores)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--save", type=Path, help="also write the kernel's assembly here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MITRASIM_CACHE_DIR"] = tmp  # before mitrasim is imported: an empty cache, so a fresh compile
        os.environ["MITRASIM_THREADS"] = "1"
        sys.path.insert(0, str(HERE))
        import numpy as np

        import engine as bench

        from mitrasim.physiology import engine as E
        from mitrasim.physiology import simulation as S

        steps = int(S.steps_per_beat(0.8, 4e-3))
        ps, P, ew, X0 = bench._engine_arrays("regazzoni2022", steps, eroa_cm2=np.linspace(0.1, 0.5, 64))
        bench._kernel_call(ps, P, ew, X0, steps, 2)()
        kernel = E._run_group_lanes_orifice
        asm = kernel.inspect_asm(kernel.signatures[0])
    if args.save:
        args.save.write_text(asm)
    rows = [mix(b) for b in innermost_loops(asm)]
    rows = [r for r in rows if r["on_zmm"] >= 100]
    keys = ["instructions", "on_zmm", "fma", "mul", "add", "div", "sqrt", "max/min", "compare", "blend/masked move",
            "mask logic", "move", "gather", "other", "memory_operands", "stack_operands", "stores", "stack_stores"]
    by_fma = sorted(range(len(rows)), key=lambda i: -rows[i].get("fma", 0))
    names = {by_fma[0]: "_rk4_step", by_fma[1]: "_rk4_rest"} if len(rows) >= 2 else {}
    rest = [i for i in range(len(rows)) if i not in names]
    if rest:
        names[max(rest, key=lambda i: rows[i].get("compare", 0))] = "_accumulate"
    print("loop | " + " | ".join(keys))
    for i, r in enumerate(rows):
        print(f"{names.get(i, f'loop {i}')} | " + " | ".join(str(r.get(k, 0)) for k in keys))


if __name__ == "__main__":
    main()
