"""Sources behind the cohort module's literature numbers (registered once, here).

Status marks follow ``shared/reference/clinical.md``: ``src`` seen in the source
(or in the clinical reference marked [src]), ``sec`` seen only on a secondary
page, ``check`` recalled and not verified, ``model`` a modelling choice.
"""

from __future__ import annotations

from mitrasim import citations
from mitrasim.echo import lv_bias as _lv_bias  # noqa: F401  (registers rigolli2016_lv_bias, cited by the cohort)

citations.register(
    "obadia2018_mitrafr",
    "Obadia JF, Messika-Zeitoun D, Leurent G, et al. Percutaneous Repair or Medical Treatment for "
    "Secondary Mitral Regurgitation (MITRA-FR). N Engl J Med 379:2297-2306 (2018).",
    doi="10.1056/NEJMoa1805374",
)
from mitrasim.procedure import risks as _procedure_risks  # noqa: E402,F401  (registers clinical_reference_risks)
citations.register(
    "asch2019_coapt_echo",
    "Asch FM, Grayburn PA, Siegel RJ, et al. Echocardiographic Outcomes After Transcatheter Leaflet "
    "Approximation in Patients With Secondary Mitral Regurgitation: The COAPT Trial. "
    "J Am Coll Cardiol 74:2969-2979 (2019).",
    doi="10.1016/j.jacc.2019.09.017",
    note="Baseline of all 614 randomised patients (LVEF, LVEDV, EROA: mean and SD as in cohort/populations/coapt_like.yaml).",
)
citations.register(
    "mitrasim_cohort_model",
    "mitrasim cohort model choices (src/mitrasim/cohort): population shapes, correlations and the "
    "patient-to-engine mapping where no published number was found.",
)
citations.register(
    "gertz2025_coapt_forward_flow",
    "Gertz ZM, Pibarot P, Zhou Z, et al. Forward Flow in Patients With Heart Failure and Functional Mitral "
    "Regurgitation: The COAPT Trial. J Soc Cardiovasc Angiogr Interv (2025) 102609.",
    doi="10.1016/j.jscai.2025.102609",
    note="COAPT's baseline forward flow (Doppler stroke volume index, tertiles); read in the abstract only: "
    "the coapt_like forward SV marginal is a model choice [check].",
)
citations.register(
    "lesevic2017_everest_criteria",
    "Lesevic H, Karl M, Braun D, Barthel P, Orban M, Pache J, Hadamitzky M, Mehilli J, Stecher L, Massberg S, "
    "Ott I, Schunkert H, Kastrati A, Sonne C, Hausleiter J. Long-Term Outcomes After MitraClip Implantation "
    "According to the Presence or Absence of EVEREST Inclusion Criteria. Am J Cardiol 119:1255-1261 (2017).",
    note="Abstract read: of 134 consecutive MitraClip patients (2009-2012), 75 (56%) did not meet the EVEREST "
    "inclusion criteria; reintervention 37% vs 11%, driven by complex valves (flail width > 15 mm, gap >= 10 mm). "
    "A cross-check that anatomy outside EVEREST II is common in practice, not a sourced split of the default "
    "population's lesion extents (mitrasim.cohort.population, model shares).",
)
