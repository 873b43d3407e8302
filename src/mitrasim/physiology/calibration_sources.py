"""Sources of the phenotype calibration targets (registered once, used by parameter_sets)."""

from mitrasim import citations

citations.register(
    "chiarito2018",
    "Chiarito M, Pagnesi M, Martino EA, et al. Outcome after percutaneous edge-to-edge mitral repair for "
    "functional and degenerative mitral regurgitation: a systematic review and meta-analysis. Heart "
    "104:306-312 (2018).",
    doi="10.1136/heartjnl-2017-311412",
)
