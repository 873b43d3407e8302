"""Static figures of a simulated beat (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_beat(result, i: int, path: Path | str, *, compare=None, labels=("", "")) -> Path:
    """PV loop, LA/LV/aortic pressures and mitral flows of patient ``i`` of ``result``.

    ``compare`` (another result's patient, as ``(result, index)``) is drawn dashed on the same axes.
    Writes ``path`` (PNG, SVG or PDF by its suffix) and returns it.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(1, 3, figsize=(13, 4), constrained_layout=True)
    runs = [(result, i, "-", labels[0])]
    if compare is not None:
        runs.append((compare[0], compare[1], "--", labels[1]))
    for res, k, ls, lab in runs:
        w = res.patient_waveforms(k)
        t = w["t_s"]
        sfx = f" {lab}" if lab else ""
        ax[0].plot(np.r_[w["v_lv_ml"], w["v_lv_ml"][:1]], np.r_[w["p_lv_mmhg"], w["p_lv_mmhg"][:1]], ls, color="C0", label=f"LV{sfx}")
        ax[1].plot(t, w["p_ao_mmhg"], ls, color="C3", label=f"aorta{sfx}")
        ax[1].plot(t, w["p_lv_mmhg"], ls, color="C0", label=f"LV{sfx}")
        ax[1].plot(t, w["p_la_mmhg"], ls, color="C2", label=f"LA{sfx}")
        ax[2].plot(t, w["q_mv_ml_s"], ls, color="C0", label=f"forward (LA→LV){sfx}")
        ax[2].plot(t, -w["q_mr_ml_s"], ls, color="C1", label=f"regurgitant (LV→LA){sfx}")
    ax[0].set(xlabel="LV volume (mL)", ylabel="LV pressure (mmHg)", title="pressure–volume loop")
    ax[1].set(xlabel="time (s)", ylabel="pressure (mmHg)", title="pressures")
    ax[2].set(xlabel="time (s)", ylabel="flow (mL/s)", title="mitral flow")
    ax[2].axhline(0, color="k", lw=0.5)
    for a in ax:
        a.legend(fontsize=8)
        a.grid(alpha=0.3)
    fig.suptitle("mitrasim — research and education only, not a medical device", fontsize=9)
    fig.savefig(path)
    plt.close(fig)
    return path
