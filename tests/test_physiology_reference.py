"""The reference's diastolic duration on hand-made beats (samples of forward mitral flow, aortic
ejection and forward velocity), counted from the rule of :func:`mitrasim.physiology.reference._diastolic_samples`:
forward-flow samples, plus each no-flow gap (a circular run, :func:`_no_flow_gaps`) without aortic
ejection that follows a forward wave reaching the engine's trace threshold, except the gap holding
the beat's first no-flow sample."""

from __future__ import annotations

import numpy as np
import pytest

from mitrasim.physiology import reference as R
from mitrasim.physiology.engine import TRACE_MIN_VELOCITY_M_S

FAST, SLOW = 2.0 * TRACE_MIN_VELOCITY_M_S, 0.5 * TRACE_MIN_VELOCITY_M_S


def _beat(flow: str, ejecting: str = "", fast: str = "") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``flow``: one character a sample, ``E`` forward flow, ``.`` none; ``ejecting``/``fast``: the
    samples (same length, ``x``) with aortic ejection / a forward velocity above the threshold."""
    fwd = np.array([c == "E" for c in flow])
    ej = np.array([c == "x" for c in ejecting.ljust(len(flow), ".")])
    v = np.where([c == "x" for c in fast.ljust(len(flow), ".")], FAST, SLOW) * fwd
    return fwd, ej, v


@pytest.mark.parametrize(
    "flow,ejecting,fast,expected,why",
    [
        ("..EE..EE..", "", "..xx..xx..", 4 + 2, "the diastasis 4-5 after a fast E wave counts; 8-9 + 0-1 holds the first no-flow sample"),
        ("..EE..EE..", ".....x", "..xx..xx..", 4, "ejection in the gap: systole, not diastole"),
        ("..EE..EE..", "", "......xx..", 4, "the wave before the gap stays below the trace threshold"),
        ("..EE..EE..", "", "...x......", 4 + 2, "one sample of the wave at the threshold is enough (the wave's peak)"),
        ("EE..EE..EE", "", "xxxxxxxxxx", 6 + 2, "wrapped beat: gap 2-3 holds the first no-flow sample; gap 6-7 counts"),
        (".EE..EE.EE", "", "xxxxxxxxxx", 6 + 2 + 1, "three gaps: 0 is the first; 3-4 and 7 follow fast waves"),
        ("EEEEEEEEEE", "", "", 10, "flow throughout: the whole beat"),
        ("..........", "", "", 0, "no forward flow: no diastole"),
    ],
)
def test_diastolic_samples(flow: str, ejecting: str, fast: str, expected: int, why: str) -> None:
    assert R._diastolic_samples(*_beat(flow, ejecting, fast)) == expected, why


def test_diastolic_samples_do_not_depend_on_where_a_wave_is_cut_by_the_beat_boundary() -> None:
    """A periodic beat shifted so that a forward wave wraps round its end counts the same gaps as
    long as the first no-flow sample stays in the same gap."""
    fwd, ej, v = _beat("..EEE...EE.", "", "..xxx...xx.")
    base = R._diastolic_samples(fwd, ej, v)
    assert base == 5 + 3
    for k in (1, 2):  # the trailing no-flow sample moves to the front, the gap 0-1 + 10 stays first
        assert R._diastolic_samples(np.roll(fwd, k), np.roll(ej, k), np.roll(v, k)) == base
