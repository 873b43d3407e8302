"""Sources of the phenotype calibration targets (registered once, used by parameter_sets)."""

from mitrasim import citations

citations.register(
    "chiarito2018",
    "Chiarito M, Pagnesi M, Martino EA, et al. Outcome after percutaneous edge-to-edge mitral repair for "
    "functional and degenerative mitral regurgitation: a systematic review and meta-analysis. Heart "
    "104:306-312 (2018).",
    doi="10.1136/heartjnl-2017-311412",
)
citations.register(
    "kovacs2009_mpap",
    "Kovacs G, Berghold A, Scheidl S, Olschewski H. Pulmonary arterial pressure during rest and exercise in "
    "healthy subjects: a systematic review. Eur Respir J 34:888-894 (2009).",
    doi="10.1183/09031936.00145608",
    note="1,187 healthy individuals, 47 studies: resting mean PA pressure "
    "mitrasim.calibrate.presets.NORMAL_MPAP_MMHG +- 3.3 mmHg (supine).",
)
