"""Sources cited by more than one part of mitrasim, registered once here.

Module-specific sources are registered next to the numbers that use them; a source that
several areas rely on (a trial, a registry) lives here so that it is registered exactly once.
"""

from typing import Any

#: The shared sources as :func:`mitrasim.citations.register` arguments; :mod:`mitrasim.citations`
#: registers them when it loads (this module imports nothing, so the two make no import cycle).
SHARED: list[tuple[tuple[Any, ...], dict[str, Any]]] = []


def _shared(*args: Any, **kwargs: Any) -> None:
    SHARED.append((args, kwargs))


_shared(
    "feldman2011_everest2",
    "Feldman T et al. Percutaneous repair or surgery for mitral regurgitation (EVEREST II). "
    "N Engl J Med 364:1395-1406 (2011).",
    note="Anatomic exclusions: MVA below mitrasim.devices.grasp.WIDE_MIN_MVA_CM2; flail width and flail gap "
    "at or above the everest2_like population's eligibility (max_lesion_width_mm, max_gap_mm); coaptation "
    "depth > 11 mm, coaptation length < 2 mm (not modelled); cleft (the grasp rule of mitrasim.devices.grasp); "
    "calcification in the grasping area and severe annular calcification (the everest2_like population's "
    "eligibility: max_leaflet_calcification none, max_annular_calcification moderate). Checked against a reproduced EVEREST II criteria table "
    "(PMC6288214, Table 2) [sec]: the MVA, flail, coaptation and cleft exclusions as stated, plus bileaflet flail "
    "or severe bileaflet prolapse, a primary jet not at A2/P2, lack of chordal support, severe annular "
    "calcification; the calcification exclusion there reads 'evidence of calcification in the grasping area of "
    "the A2 and/or P2 scallops', i.e. any grade, not only severe (the population follows it).",
)

_shared(
    "sorajja2017_tvt",
    "Sorajja P, Vemulapalli S, Feldman T, et al. Outcomes With Transcatheter Mitral Valve Repair in "
    "the United States: An STS/ACC TVT Registry Report. J Am Coll Cardiol 70:2315-2327 (2017).",
    note="n = 2,952; the 1-year mortality (overall and by residual MR) and HF hospitalisation rates are "
    "mitrasim.cohort.outcomes.TVT_MORTALITY_1Y, TVT_MORTALITY_1Y_OVERALL and TVT_HFH_1Y_OVERALL (clinical.md). "
    "Abstract read (two copies: ACC journal scan, library record): median age mitrasim.procedure.risks."
    "REFERENCE_AGE_YEARS, median STS-PROM for repair REFERENCE_STS_PCT (IQR 3.7-9.9%), overall in-hospital "
    "mortality 2.7% (the in-hospital death default of mitrasim.procedure.risks.ComplicationRates), acute procedure "
    "success 91.8%, 30-day mortality 5.2% (patients with CMS linkage).",
)

_shared(
    "kar2023_expand",
    "Kar S, von Bardeleben RS, Rottbauer W, et al. Contemporary Outcomes Following Transcatheter Edge-to-Edge "
    "Repair: 1-Year Results From the EXPAND Study Using Third-Generation MitraClip Devices. "
    "JACC Cardiovasc Interv, 13 March 2023 issue [volume and pages not read: check].",
    note="Seen only on a secondary page (CRT news release, which gives the journal and the 13 March issue): "
    "n = 1,041 (April 2018 - March 2019, 57 centres), implant success 98.9%, clips per patient (mean, SD) as the "
    "expand_clips comparator of validate/comparators/development.yaml and mitrasim.procedure.risks."
    "CLIPS_PER_PATIENT [sec].",
)

_shared(
    "stone2018_coapt",
    "Stone GW, Lindenfeld J, Abraham WT, et al. Transcatheter Mitral-Valve Repair in Patients with Heart "
    "Failure (COAPT). N Engl J Med 379:2307-2318 (2018).",
    doi="10.1056/NEJMoa1806640",
)
