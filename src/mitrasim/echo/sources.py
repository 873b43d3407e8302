"""Sources behind every literature number of the echo module, registered once.

Keys used in :mod:`mitrasim.echo.thresholds` and :mod:`mitrasim.echo.synthetic`.
"""

from __future__ import annotations

from mitrasim import citations

# Same text as mitrasim.physiology.parameter_sets registers (a key registered twice must
# match exactly, else importing both modules fails).
ZOGHBI2017 = citations.register(
    "zoghbi2017",
    "Zoghbi WA, Adams D, Bonow RO, et al. Recommendations for Noninvasive Evaluation of Native Valvular "
    "Regurgitation. J Am Soc Echocardiogr 30:303-371 (2017).",
    doi="10.1016/j.echo.2017.01.007",
)
OTTO2020 = citations.register(
    "otto2020",
    "Otto CM, Nishimura RA, Bonow RO, et al. 2020 ACC/AHA Guideline for the Management of Patients "
    "With Valvular Heart Disease. Circulation 143:e72-e227 (2021).",
    doi="10.1161/CIR.0000000000000923",
)
VAHANIAN2021 = citations.register(
    "vahanian2021_esc",
    "Vahanian A, Beyersdorf F, Praz F, et al. 2021 ESC/EACTS Guidelines for the management of "
    "valvular heart disease. Eur Heart J 43:561-632 (2022).",
    doi="10.1093/eurheartj/ehab395",
    note="Read in a public markdown copy of the guideline: Table 7 (severe MR criteria based on 2D echo, primary "
    "and secondary columns) and sections 6.1.1, 6.1.2 and 6.2.1; the esc2021 rows of mitrasim.echo.thresholds "
    "cite the table in their notes.",
)
LANCELLOTTI2022 = citations.register(
    "lancellotti2022_eacvi",
    "Lancellotti P, Pibarot P, Chambers J, et al. Multi-modality imaging assessment of native valvular "
    "regurgitation: an EACVI and ESC council of valvular heart disease position paper. "
    "Eur Heart J Cardiovasc Imaging 23:e171-e232 (2022).",
    doi="10.1093/ehjci/jeab253",
    note="Not readable here (title page only) [check]. Cited with ESC 2021 on the esc2021 rows that ESC 2021 "
    "Table 7 states (its table is adapted from the EACVI recommendations), and alone on the esc2021 PISA-radius "
    "row, whose radius ESC 2021 does not give.",
)
BAUMGARTNER2009 = citations.register(
    "baumgartner2009",
    "Baumgartner H, Hung J, Bermejo J, et al. Echocardiographic assessment of valve stenosis: "
    "EAE/ASE recommendations for clinical practice. J Am Soc Echocardiogr 22:1-23 (2009).",
    doi="10.1016/j.echo.2008.11.029",
)
STONE2015 = citations.register(
    "stone2015_mvarc",
    "Stone GW, Adams DH, Abraham WT, et al. Clinical Trial Design Principles and Endpoint Definitions "
    "for Transcatheter Mitral Valve Repair and Replacement: Part 2: Endpoint Definitions. "
    "J Am Coll Cardiol 66:308-321 (2015).",
    doi="10.1016/j.jacc.2015.05.049",
)
GRAYBURN2014 = citations.register(
    "grayburn2014",
    "Grayburn PA, Carabello B, Hung J, et al. Defining 'severe' secondary mitral regurgitation: "
    "emphasizing an integrated approach. J Am Coll Cardiol 64:2792-2801 (2014).",
    doi="10.1016/j.jacc.2014.10.016",
    note="Documents that the 2014 AHA/ACC guideline had lowered severe secondary MR to EROA 0.20 cm2 / "
    "RVol 30 mL; these cut-offs were dropped again in ACC/AHA 2020 and ESC 2021.",
)
PISA_REPRO2004 = citations.register(
    "pisa_reproducibility_pmid15077090",
    "Reproducibility of the flow convergence (PISA) method in mitral and tricuspid regurgitation: "
    "inter- and intra-observer variability of the PISA radius in 83 patients. "
    "J Am Soc Echocardiogr (2004), PubMed 15077090.",
    note="Authors not verified; abstract seen via a PubMed mirror.",
)
ZOLGHARNI2013 = citations.register(
    "zolgharni2013_aquro",
    "Zolgharni M, et al. Automated quantification of effective regurgitant orifice area (AQURO) versus "
    "PISA. Int J Cardiol 166:688-695 (2013).",
    doi="10.1016/j.ijcard.2011.11.104",
)
BINER2010 = citations.register(
    "biner2010",
    "Biner S, Rafique A, Rafii F, et al. Reproducibility of proximal isovelocity surface area, vena "
    "contracta, and regurgitant jet area for assessment of mitral regurgitation severity. "
    "JACC Cardiovasc Imaging 3:235-243 (2010).",
    doi="10.1016/j.jcmg.2009.09.029",
)
LANG2015 = citations.register(
    "lang2015",
    "Lang RM, Badano LP, Mor-Avi V, et al. Recommendations for cardiac chamber quantification by "
    "echocardiography in adults. J Am Soc Echocardiogr 28:1-39 (2015).",
    doi="10.1016/j.echo.2014.10.003",
)
HATLE1979 = citations.register(
    "hatle1979",
    "Hatle L, Angelsen B, Tromsdal A. Noninvasive assessment of atrioventricular pressure half-time "
    "by Doppler ultrasound. Circulation 60:1096-1104 (1979).",
    doi="10.1161/01.CIR.60.5.1096",
)
