"""Outcomes of every shipped population with the decisions read at restored afterload versus
under general anaesthesia's own afterload (issue 13 follow-up): one trial per arm, frozen
parameters, same patients and seed.

Usage (from the repository root, mitrasim importable from src/)::

    PYTHONPATH=src python benchmarks/afterload.py --n 500

Each arm: stop rule MR <= 1+, up to 4 clips (as ``cohort.py --plausibility``), the protocol's
``assess_at_restored_afterload`` on (``restored``) or off (``ga``).  Per population and
etiology: MR <= 2+ after (awake, discharge), clips per patient (mean, distribution),
post-procedure gradient awake (mean, SD, share > 5 mmHg, over implanted patients), the
state the decision readings were taken in; per arm the wall and engine seconds (same run: the
option changes the engine's parameters, not the number of engine calls).  Report what comes
out; nothing is tuned to it.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from mitrasim.cohort.population import SHIPPED_POPULATIONS
from mitrasim.cohort.trial import parse_trial, read_results, run_trial

ARMS = {"restored": True, "ga": False}


def _arm(name: str, restored: bool) -> dict:
    return {
        "name": name,
        "strategy": {"stop_rule": "mr_le_1plus", "max_clips": 4, "assess_at_restored_afterload": restored},
    }


def _col(t, name: str) -> np.ndarray:
    return t.column(name).to_numpy(zero_copy_only=False)


def _line(pop: str, arm: str, etiology: str, c: dict[str, np.ndarray], keep: np.ndarray) -> str:
    implanted = keep & (c["clips_implanted"] > 0)
    g = c["gradient_after_mmhg"][implanted]
    clips = c["clips_implanted"][keep]
    dist = " ".join(f"{k}:{100 * np.mean(clips == k):4.1f}%" for k in range(0, 5))
    states = sorted(set(c["loading_intraproc"][keep]))
    return (
        f"{pop:14s} {arm:9s} {etiology:9s} n={keep.sum():4d}  MR<=2+ after {100 * np.mean(c['grade_after'][keep] <= 2):5.1f}%"
        f"  clips/pt {np.mean(clips):4.2f} [{dist}]  gradient awake (implanted n={implanted.sum()}) mean {np.mean(g):4.2f}"
        f" SD {np.std(g, ddof=1):4.2f} >5 mmHg {100 * np.mean(g > 5):5.1f}%  readings: {','.join(states)}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--populations", default=",".join(SHIPPED_POPULATIONS))
    a = ap.parse_args()
    for pop in a.populations.split(","):
        c: dict[str, list[np.ndarray]] = {}
        for arm, restored in ARMS.items():
            trial = parse_trial({"name": "afterload", "population": pop, "n_patients": a.n, "seed": 1, "chunk_size": min(a.n, 2_500), "arms": [_arm(arm, restored)]})  # fmt: skip
            t0 = time.perf_counter()
            with tempfile.TemporaryDirectory() as d:
                r = run_trial(trial, Path(d) / "t", workers=1, progress=False)
                t = read_results(Path(d) / "t")[0]
            print(f"# {pop} {arm}: wall {time.perf_counter() - t0:.1f} s, engine {r['engine_seconds']:.1f} s")
            for k in ("arm", "etiology", "grade_after", "clips_implanted", "gradient_after_mmhg", "loading_intraproc"):
                c.setdefault(k, []).append(_col(t, k))
        cc = {k: np.concatenate(v) for k, v in c.items()}
        for arm in ARMS:
            for et in ("all", "primary", "secondary"):
                keep = (cc["arm"] == arm) & ((cc["etiology"] == et) if et != "all" else True)
                if keep.any():
                    print(_line(pop, arm, et, cc, keep))


if __name__ == "__main__":
    main()
