"""Echo calculators: pure functions, units in every name.

Units: lengths in cm, velocities in cm/s (Doppler colour/CW convention) unless the
name says m/s, areas in cm², volumes in mL, flows in mL/s, pressures in mmHg,
times in ms. Since 1 mL = 1 cm³, flow [mL/s] / velocity [cm/s] = area [cm²] and
area [cm²] × VTI [cm] = volume [mL] without conversion factors.

Impossible inputs raise :class:`mitrasim.errors.InputError` naming the field,
the value and the allowed range.
"""

from __future__ import annotations

import math

from mitrasim import citations
from mitrasim.errors import InputError, check_range

__all__ = [
    "pisa_flow_ml_s",
    "pisa_eroa_cm2",
    "pisa_rvol_ml",
    "lvot_stroke_volume_ml",
    "volumetric_rvol_ml",
    "regurgitant_fraction_pct",
    "mva_pressure_half_time_cm2",
    "vena_contracta_cm",
    "bernoulli_gradient_mmhg",
    "cm_s_to_m_s",
    "m_s_to_cm_s",
    "cm_to_mm",
    "mm_to_cm",
    "PHT_CONSTANT_MS_CM2",
]

#: Empirical constant of the pressure half-time method, MVA = 220 / PHT (Hatle 1979).
PHT_CONSTANT_MS_CM2 = 220.0
_INF = math.inf


def cm_s_to_m_s(v_cm_s: float) -> float:
    """Velocity in cm/s → m/s."""
    return v_cm_s / 100.0


def m_s_to_cm_s(v_m_s: float) -> float:
    """Velocity in m/s → cm/s."""
    return v_m_s * 100.0


def cm_to_mm(x_cm: float) -> float:
    """Length in cm → mm."""
    return x_cm * 10.0


def mm_to_cm(x_mm: float) -> float:
    """Length in mm → cm."""
    return x_mm / 10.0


def pisa_flow_ml_s(radius_cm: float, aliasing_cm_s: float, wall_angle_deg: float = 180.0) -> float:
    """Instantaneous regurgitant flow through a hemispheric PISA shell.

    **Arguments:**

    - `radius_cm`: PISA radius r (cm), > 0.
    - `aliasing_cm_s`: aliasing (Nyquist) velocity Va (cm/s), > 0.
    - `wall_angle_deg`: flow-convergence angle α (degrees, (0, 180]); a jet
      constrained by a wall is corrected by α/180 (180 = free hemisphere).

    **Returns:** flow Q = 2π r² Va · α/180 in mL/s.
    """
    r = check_range("pisa_radius_cm", radius_cm, 0.0, 5.0, lo_open=True, unit="cm")
    va = check_range("aliasing_cm_s", aliasing_cm_s, 0.0, 200.0, lo_open=True, unit="cm/s")
    a = check_range("wall_angle_deg", wall_angle_deg, 0.0, 180.0, lo_open=True, unit="deg")
    citations.cite("zoghbi2017")
    return 2.0 * math.pi * r * r * va * (a / 180.0)


def pisa_eroa_cm2(radius_cm: float, aliasing_cm_s: float, mr_vmax_cm_s: float, wall_angle_deg: float = 180.0) -> float:
    """Effective regurgitant orifice area by PISA: EROA = Q / Vmax.

    **Arguments:** as :func:`pisa_flow_ml_s`, plus `mr_vmax_cm_s`, the peak CW
    velocity of the MR jet (cm/s), which must exceed the aliasing velocity.

    **Returns:** EROA in cm².

    **Raises:** `InputError` (field `mr_vmax_cm_s`) if Vmax ≤ Va.
    """
    q = pisa_flow_ml_s(radius_cm, aliasing_cm_s, wall_angle_deg)
    vmax = check_range("mr_vmax_cm_s", mr_vmax_cm_s, 0.0, 1000.0, lo_open=True, unit="cm/s")
    if vmax <= float(aliasing_cm_s):
        raise InputError("mr_vmax_cm_s", mr_vmax_cm_s, f"> aliasing_cm_s ({float(aliasing_cm_s):g}) and <= 1000 cm/s")
    return q / vmax


def pisa_rvol_ml(eroa_cm2: float, mr_vti_cm: float) -> float:
    """Regurgitant volume by PISA: RVol = EROA × VTI(MR).

    **Arguments:** `eroa_cm2` (≥ 0), `mr_vti_cm` velocity-time integral of the
    MR jet (cm, ≥ 0). **Returns:** mL.
    """
    e = check_range("eroa_cm2", eroa_cm2, 0.0, 5.0, unit="cm2")
    vti = check_range("mr_vti_cm", mr_vti_cm, 0.0, 500.0, unit="cm")
    return e * vti


def lvot_stroke_volume_ml(lvot_diameter_cm: float, lvot_vti_cm: float) -> float:
    """Forward stroke volume through the LVOT: π (D/2)² × VTI (mL)."""
    d = check_range("lvot_diameter_cm", lvot_diameter_cm, 0.0, 5.0, lo_open=True, unit="cm")
    vti = check_range("lvot_vti_cm", lvot_vti_cm, 0.0, 100.0, unit="cm")
    return math.pi * (d / 2.0) ** 2 * vti


def volumetric_rvol_ml(total_sv_ml: float, forward_sv_ml: float) -> float:
    """Regurgitant volume by the volumetric method: total LV SV − forward (LVOT) SV.

    **Raises:** `InputError` (field `forward_sv_ml`) if the forward SV exceeds the total SV.
    """
    tot = check_range("total_sv_ml", total_sv_ml, 0.0, 500.0, lo_open=True, unit="mL")
    fwd = check_range("forward_sv_ml", forward_sv_ml, 0.0, 500.0, unit="mL")
    if fwd > tot:
        raise InputError("forward_sv_ml", forward_sv_ml, f"[0, total_sv_ml ({tot:g})] mL")
    return tot - fwd


def regurgitant_fraction_pct(rvol_ml: float, total_sv_ml: float) -> float:
    """Regurgitant fraction RF = RVol / total SV × 100 (%).

    **Raises:** `InputError` (field `rvol_ml`) if RVol > total SV (RF > 100 %).
    """
    tot = check_range("total_sv_ml", total_sv_ml, 0.0, 500.0, lo_open=True, unit="mL")
    rv = check_range("rvol_ml", rvol_ml, 0.0, 500.0, unit="mL")
    if rv > tot:
        raise InputError("rvol_ml", rvol_ml, f"[0, total_sv_ml ({tot:g})] mL (RF <= 100%)")
    return 100.0 * rv / tot


def mva_pressure_half_time_cm2(pht_ms: float) -> float:
    """Mitral valve area by pressure half-time: MVA = 220 / PHT (cm², PHT in ms)."""
    p = check_range("pht_ms", pht_ms, 0.0, 2000.0, lo_open=True, unit="ms")
    citations.cite("hatle1979")
    return PHT_CONSTANT_MS_CM2 / p


def vena_contracta_cm(eroa_cm2: float, aspect_ratio: float = 1.0) -> float:
    """Vena contracta width seen in one 2-D plane, from the orifice area.

    The orifice is taken as an ellipse of area `eroa_cm2` whose long/short axis
    ratio is `aspect_ratio` (1 = circle). The 2-D width is the *short* axis
    (parasternal long-axis view cuts across the coaptation line), so
    ``VC = 2 sqrt(EROA / (π · aspect_ratio))``; a circle gives ``2 sqrt(EROA/π)``.
    """
    e = check_range("eroa_cm2", eroa_cm2, 0.0, 5.0, unit="cm2")
    k = check_range("aspect_ratio", aspect_ratio, 1.0, 10.0, unit="")
    return 2.0 * math.sqrt(e / (math.pi * k))


def bernoulli_gradient_mmhg(v_m_s: float) -> float:
    """Simplified Bernoulli pressure drop ΔP = 4 v² (mmHg, v in m/s)."""
    v = check_range("velocity_m_s", abs(v_m_s) if isinstance(v_m_s, (int, float)) else v_m_s, 0.0, 10.0, unit="m/s")
    return 4.0 * v * v
