"""Floating-point operations per patient per RK4 step, counted by running the kernels' own code.

Run by hand (numba's JIT is switched off in a subprocess, so the kernels' Python source runs
on a counting float; no formula to keep in step with the code)::

    python benchmarks/flops.py          # prints JSON: engine and reference kernel counts

A step of the engine on a beat with metrics = the first right-hand-side stage, the beat-metric
accumulators, stages 2–4 and the RK4 update (``per_step``); on a beat without metrics = the
four stages and the update (``per_plain_step``); of the reference kernel
(``benchmarks/reference_kernel.py``) = four stages and the update (its metrics run on the last
beat only).  +, −, ×, ÷ count one each (an FMA is two); comparisons,
selects, max/min and floor are counted apart (they are not floating-point arithmetic).  The
orifice mitral law, cosine activation, one lane, at a mid-diastolic state of the
``regazzoni2022`` preset.  Python runs one side of each ``a if c else b`` where the compiled
vector code evaluates both and selects, so a count is what one patient's arithmetic needs at
that state (the accumulators' count varies by a few operations with the flow's phase).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
COUNT: Counter = Counter()


class F(float):
    """A float that counts the arithmetic done on it."""

    def _op(self, name, v):
        COUNT[name] += 1
        return F(v)

    def __add__(self, o): return self._op("add", float(self) + float(o))  # noqa: E704
    def __radd__(self, o): return self._op("add", float(o) + float(self))  # noqa: E704
    def __sub__(self, o): return self._op("add", float(self) - float(o))  # noqa: E704
    def __rsub__(self, o): return self._op("add", float(o) - float(self))  # noqa: E704
    def __mul__(self, o): return self._op("mul", float(self) * float(o))  # noqa: E704
    def __rmul__(self, o): return self._op("mul", float(o) * float(self))  # noqa: E704
    def __truediv__(self, o): return self._op("div", float(self) / float(o))  # noqa: E704
    def __rtruediv__(self, o): return self._op("div", float(o) / float(self))  # noqa: E704
    def __neg__(self): return self._op("add", -float(self))  # noqa: E704
    def _cmp(self, v: bool) -> bool:
        COUNT["cmp"] += 1
        return v

    def __lt__(self, o): return self._cmp(float(self) < float(o))  # noqa: E704
    def __le__(self, o): return self._cmp(float(self) <= float(o))  # noqa: E704
    def __gt__(self, o): return self._cmp(float(self) > float(o))  # noqa: E704
    def __ge__(self, o): return self._cmp(float(self) >= float(o))  # noqa: E704
    def __eq__(self, o): return self._cmp(float(self) == float(o))  # noqa: E704
    __hash__ = float.__hash__


def _counted(fn) -> dict[str, int]:
    COUNT.clear()
    fn()
    out = dict(COUNT)
    out["flops"] = out.get("add", 0) + out.get("mul", 0) + out.get("div", 0)
    return out


def _inside() -> dict:
    import numpy as np

    sys.path.insert(0, str(HERE))
    import reference_kernel as RK

    from mitrasim.physiology import engine as E
    from mitrasim.physiology import simulation as S

    pset = S.get_parameter_set("regazzoni2022")
    cols, n = S.build_batch(pset, None, eroa_cm2=0.3)
    steps = int(S.steps_per_beat(60.0 / cols["hr_bpm"], 4e-3)[0])
    P, ew = S._kernel_arrays(cols, pset.model, n, n, steps)
    X0 = S._initial_states(pset, cols, n, n, None)
    L = 1

    def obj(a):
        return np.array([F(v) for v in np.asarray(a, float).ravel()], dtype=object)

    # engine: set a lane up with plain floats, then count one step on counting floats
    X, PB = np.empty(E.N_STATE), np.empty(E.N_PB)
    act = np.empty((2 * steps + 1) * 4)
    E._setup_lane(P, X0, ew, 0, 0, 0, steps, X, PB, act, L)
    X[E.S_QF] = 50.0  # forward flow, mid-diastole
    Xo, PBo, acto = obj(X), obj(PB), obj(act)
    K1 = obj(np.zeros(E.N_STATE))
    A = obj(np.zeros(E.N_ACC))
    s2 = 2 * (steps // 2)
    e0, eh, e1 = (acto[(s2 + i) * 4 * L:(s2 + i + 1) * 4 * L] for i in range(3))  # the step's elastance slices
    Xp = obj(X)
    eng = {
        # a step on a beat with metrics: first stage, accumulators, stages 2-4 and the update
        "first_stage": _counted(lambda: E._rhs(Xo, K1, PBo, e0, False, L)),
        "accumulate": _counted(lambda: E._accumulate(Xo, K1, PBo, e0, float(steps // 2), False, float(steps), A, L)),
        "stages_2_4_and_update": _counted(lambda: E._rk4_rest(Xo, K1, PBo, eh, e1, False, L)),
        # the test for a turn of dV_LV/dt (its Hermite extreme runs twice a beat, not counted per step)
        "volume_turns": _counted(lambda: E._volume_turns(Xo, K1, PBo, A, L)),
        # a step on a beat without metrics (the same state)
        "plain_step": _counted(lambda: E._rk4_step(Xp, PBo, e0, eh, e1, False, L)),
    }
    eng["per_step"] = sum(eng[k]["flops"] for k in ("first_stage", "accumulate", "volume_turns", "stages_2_4_and_update"))
    eng["per_plain_step"] = eng["plain_step"]["flops"]

    # reference kernel: the same state
    RL = RK.LANES
    D = RK.derived(P, steps)
    c = obj(np.repeat(D[:, :1], RL, axis=1).ravel())
    x = obj(np.repeat(X[:, None], RL, axis=1).ravel())
    # the reference's elastance table, as its block builds it from the shared activation table
    ek = obj(np.repeat(act.reshape(-1, 4)[:, :, None], RL, axis=2).ravel())
    r0, rh, r1 = (ek[(s2 + i) * 4 * RL:(s2 + i + 1) * 4 * RL] for i in range(3))
    ref = {"step": {k: v // RL for k, v in _counted(lambda: RK._step(x, c, r0, rh, r1, RL)).items()}}
    ref["per_step"] = ref["step"]["flops"]
    return {"engine": eng, "reference_kernel": ref, "steps_per_beat": steps}


def count() -> dict:
    """Run the count in a subprocess with numba's JIT disabled; returns the JSON it prints."""
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--inside"], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


if __name__ == "__main__":
    if "--inside" in sys.argv:
        print(json.dumps(_inside()))
    else:
        print(json.dumps(count(), indent=1))
