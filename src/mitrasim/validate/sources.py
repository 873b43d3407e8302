"""Sources behind the validation harness (registered once, here).

Status marks as in ``shared/reference/clinical.md``: ``src`` seen in the source, ``sec`` seen only on a
secondary page, ``check`` recalled and not verified.
"""

from __future__ import annotations

from mitrasim import citations

citations.register(
    "asme_vv40_2018",
    "ASME V&V 40-2018. Assessing Credibility of Computational Modeling through Verification and Validation: "
    "Application to Medical Devices. American Society of Mechanical Engineers (2018).",
    note="Structure of the report: question of interest, context of use, model risk (model influence x decision "
    "consequence), verification (code, calculation), validation, applicability.",
)
citations.register(
    "fda2023_cms_credibility",
    "U.S. Food and Drug Administration. Assessing the Credibility of Computational Modeling and Simulation in "
    "Medical Device Submissions. Guidance for Industry and FDA Staff (November 2023).",
)
citations.register(
    "saltelli2010_sobol",
    "Saltelli A, Annoni P, Azzini I, Campolongo F, Ratto M, Tarantola S. Variance based sensitivity analysis of "
    "model output. Design and estimator for the total sensitivity index. Comput Phys Commun 181:259-270 (2010).",
    doi="10.1016/j.cpc.2009.09.018",
)
citations.register(
    "herman2017_salib",
    "Herman J, Usher W. SALib: An open-source Python library for Sensitivity Analysis. "
    "J Open Source Softw 2(9):97 (2017).",
    doi="10.21105/joss.00097",
)
citations.register(
    "ishigami1990",
    "Ishigami T, Homma T. An importance quantification technique in uncertainty analysis for computer models. "
    "Proc. First International Symposium on Uncertainty Modeling and Analysis (ISUMA '90), 398-403 (1990).",
    note="Test function f = sin x1 + a sin^2 x2 + b x3^4 sin x1, x_i ~ U(-pi, pi); analytic Sobol indices.",
)
citations.register(
    "wilson1927",
    "Wilson EB. Probable inference, the law of succession, and statistical inference. "
    "J Am Stat Assoc 22:209-212 (1927).",
)
citations.register(
    "austin2009_smd",
    "Austin PC. Balance diagnostics for comparing the distribution of baseline covariates between treatment "
    "groups in propensity-score matched samples. Stat Med 28:3083-3107 (2009).",
    doi="10.1002/sim.3697",
    note="Standardized mean difference; |d| above mitrasim.validate.applicability.SMD_MARK is the commonly used "
    "mark of a meaningful imbalance [check].",
)
citations.register(
    "lim2020_expand_primary",
    "Lim DS et al. EXPAND study, 30-day core-lab outcomes of primary MR treated with MitraClip NTR/XTR. "
    "Presented at ACC.20/WCC (2020); reported by Medscape (Wendling P, April 3, 2020) [sec].",
    note="422 patients with site-assessed MR >= 3+ primary or mixed MR: MR <= 1+ and MR <= 2+ at 30 days as the "
    "expand_primary comparator of validate/comparators/development.yaml [sec]; the denominator of each share was not seen (patients with a 30-day core-lab echo) [check].",
)
