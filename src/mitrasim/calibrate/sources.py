"""Sources of the calibration's measurement uncertainties and anchors (registered once, here).

Numbers marked [check] in :mod:`mitrasim.calibrate.measurements` were not read in the source
itself (recalled or from a secondary page); they are defaults a user can replace per
measurement (``sd:``) and the note of the closing report lists them.
"""

from __future__ import annotations

from mitrasim import citations
from mitrasim.echo import lv_bias as _lv_bias  # noqa: F401  (registers rigolli2016_lv_bias)

citations.register(
    "iso81060_2_2018",
    "ISO 81060-2:2018 Non-invasive sphygmomanometers - Part 2: Clinical investigation of intermittent "
    "automated measurement type (validation criterion 1: mean error <= 5 mmHg, SD <= 8 mmHg).",
)
citations.register(
    "fisher2009_tr_spap",
    "Fisher MR, Forfia PR, Chamera E, et al. Accuracy of Doppler echocardiography in the hemodynamic "
    "assessment of pulmonary hypertension. Am J Respir Crit Care Med 179:615-621 (2009).",
    doi="10.1164/rccm.200811-1691OC",
    note="Abstract read (Johns Hopkins record): 65 patients with pulmonary hypertension, Doppler sPAP against "
    "right-heart catheterisation within 1 hour: bias -0.6 mmHg, 95% limits of agreement +38.8 to -40.0 mmHg "
    "(an SD near 20 mmHg), inaccurate by more than 10 mmHg in 48%. Context only: the default SD is Greiner 2014's, "
    "whose cohort (mostly post-capillary PH) is nearer TEER patients.",
)
citations.register(
    "greiner2014_spap",
    "Greiner S, Jud A, Aurich M, Hess A, Hilbel T, Hardt S, Katus HA, Mereles D. Reliability of Noninvasive "
    "Assessment of Systolic Pulmonary Artery Pressure by Doppler Echocardiography Compared to Right Heart "
    "Catheterization: Analysis in a Large Patient Population. J Am Heart Assoc 3(4):e001103 (2014).",
    doi="10.1161/JAHA.114.001103",
    note="Abstract read (PMC4310406): 1,695 patients with echo and catheter within 5 days (66% post-capillary "
    "PH): sPAP 45.3 +- 15.5 (echo) vs 47.4 +- 16.4 mmHg (catheter), r = 0.87; 95% limits of agreement "
    "mitrasim.calibrate.measurements.GREINER2014_LOA_MMHG, from which SPAP_TR_SD_MMHG and SPAP_TR_BIAS_MMHG; "
    "echo RA pressure against catheter bias +1.0 mmHg.",
)
citations.register(
    "rudski2010_rap",
    "Rudski LG, Lai WW, Afilalo J, et al. Guidelines for the echocardiographic assessment of the right heart "
    "in adults (ASE/EAE/CSE). J Am Soc Echocardiogr 23:685-713 (2010).",
    doi="10.1016/j.echo.2010.05.010",
    note="RA pressure from the IVC (the guideline's table, read in secondary copies [sec]: a review's table "
    "citing Rudski, two clinical pages): IVC <= 2.1 cm collapsing > 50% with a sniff 3 mmHg (range 0-5); "
    "IVC > 2.1 cm collapsing < 50% 15 mmHg (10-20); otherwise intermediate, "
    "mitrasim.calibrate.measurements.DEFAULT_RAP_MMHG (range 5-10).",
)
citations.register(
    "chemla2004_mpap",
    "Chemla D, Castelain V, Humbert M, et al. New formula for predicting mean pulmonary artery pressure using "
    "systolic pulmonary artery pressure. Chest 126:1313-1317 (2004).",
    doi="10.1378/chest.126.4.1313",
    note="High-fidelity pressures in 31 patients (mPAP 10-78 mmHg): mPAP and sPAP strongly related; the formula "
    "(mitrasim.calibrate.measurements.CHEMLA2004_SLOPE, _INTERCEPT_MMHG) validated with bias 0 +- 2 mmHg (abstract read).",
)
citations.register(
    "stetz1982_thermodilution",
    "Stetz CW, Miller RG, Kelly GE, Raffin TA. Reliability of the thermodilution method in the determination "
    "of cardiac output in clinical practice. Am Rev Respir Dis 126:1001-1004 (1982).",
    doi="10.1164/arrd.1982.126.6.1001",
    note="Abstract read (PubMed record): a pooled analysis of 14 reports; thermodilution, Fick and dye dilution "
    "are of equal accuracy. The figure behind the thermodilution SD of mitrasim.calibrate.measurements (a change "
    "of about 13% with three injections needed to be significant) is cut off in the abstract read [check].",
)
citations.register(
    "yang2011_thermodilution_precision",
    "Yang XX, Critchley LA, Joynt GM. Determination of the Precision Error of the Pulmonary Artery Thermodilution "
    "Catheter Using an In Vitro Continuous Flow Test Rig. Anesth Analg 112(1):70-77 (2011).",
    doi="10.1213/ANE.0b013e3181ff475e",
    note="Abstract read (background only): thermodilution 'has a quoted precision error of +-20%' (precision error "
    "= 2 SD / mean), i.e. the relative SD of the thermodilution method of mitrasim.calibrate.measurements; the "
    "study's own in-vitro figures are cut off in the copy read [check].",
)
citations.register(
    "parulekar2023_vti",
    "Parulekar P, Powys-Lybbe J, Bassett P, Roques S, Snazelle M, Millen G, Harris T. Comparison of cardiac index "
    "measurements in intensive care patients using continuous wave vs. pulsed wave echo-Doppler compared to pulse "
    "contour cardiac output. Intensive Care Med Exp 11:23 (2023).",
    doi="10.1186/s40635-023-00499-2",
    note="Abstract read (PMC10140233): 52 ICU patients; LVOT PW-VTI against transpulmonary thermodilution: mean "
    "difference -0.54 L/min/m2, percentage error 38.6% (= 1.96 SD of the difference / mean: about 20% of the "
    "mean for the pair). With thermodilution's own quoted +-20% the Doppler share is about 17%: a cross-check, "
    "in ventilated ICU patients, of the 'doppler' forward-output SD of mitrasim.calibrate.measurements, which "
    "stays a model value [check].",
)
citations.register(
    "mitrasim_measurement_sd",
    "mitrasim default measurement uncertainties where no single source was read (echo Doppler and PISA "
    "variability, LA volume, invasive pressures); each is marked [check] in "
    "mitrasim.calibrate.measurements and can be replaced per measurement.",
)
