"""Default values of the patient's path, each with the source it comes from.

This is the one place where the care-plan numbers live.  A hospital protocol
(:mod:`mitrasim.pathway.protocol`) overrides any of them; the defaults below are
what a plan uses when no protocol says otherwise.  Every entry names a key of
:mod:`mitrasim.citations`; entries that are a local choice rather than a
literature number say so in their note.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mitrasim import citations

__all__ = ["Default", "DEFAULTS", "EMERGENCY_NUMBERS", "EMERGENCY_NUMBERS_SOURCE", "value", "source_keys"]

citations.register(
    "mitrasim_patient_seed",
    "Hospital patient information leaflet 'Mitraclip' (the project's seed text, reference/hospital-guide.txt).",
    note="who the procedure is for, how it is done, preparation visit with blood work, fasting from the night "
    "before, the stay in hospital, home the day after, blood thinners (antiplatelet), oral hygiene and "
    "antibiotics before dental care, echo follow-up by the referring doctor, no bath or pool, groin stiffness; "
    "its durations are the DEFAULTS of mitrasim.pathway.defaults that name this source, each with the "
    "leaflet's words. [check] the leaflet's publisher is not named in its text",
)
citations.register(
    "hospital_protocol",
    "The hospital's own TEER protocol (its protocol file, mitrasim careplan --protocol).",
    note="local settings such as the admission day and hour, telephone numbers, weekend rules and reminder "
    "lead times; the shipped values are examples a hospital replaces; a guide without the hospital's "
    "telephone number is a draft. Local choice, not a literature number",
)
citations.register(
    "emergency_numbers_official",
    "National emergency numbers as published by the authorities (France: service-public.fr, 'Numeros "
    "d'urgence'; European Commission: '112, the European emergency number').",
    note="France, Belgium, Switzerland, United Kingdom, Canada and United States: the numbers are "
    "mitrasim.pathway.defaults.EMERGENCY_NUMBERS. France read in copies of the service-public.fr page (DILA, "
    "Premier ministre) on town websites: both French numbers confirmed (the SAMU for a medical emergency first, "
    "then the European number), and 114 by SMS for people who cannot speak. [check] the other countries' official pages were not read; numbers as widely "
    "published",
)
citations.register(
    "rcoa_after_ga",
    "Royal College of Anaesthetists. Patient information: 'Caring for someone recovering from a general "
    "anaesthetic or sedation'. https://www.rcoa.ac.uk/patients",
    note="no driving for at least 24 hours after a general anaesthetic. [check] the RCoA page itself was not "
    "reached; two NHS trust leaflets were read: Guy's and St Thomas' ('Instructions after anaesthetic or "
    "sedation', reviewed June 2023: no driving for 24 hours after sedation or a general anaesthetic, and for an "
    "extra 24 hours after a general anaesthetic) and Wirral University Teaching Hospital (24 hours). A lower "
    "bound only; the days without driving after femoral access are a hospital setting",
)
citations.register(
    "ottawa_mitraclip_guide",
    "University of Ottawa Heart Institute. MitraClip patient guide: 'After the MitraClip procedure', "
    "'Going home' and 'Living with your MitraClip device'. https://www.ottawaheart.ca/mitraclip-patient-guide",
    note="legs straight after the procedure; no lifting, pushing or pulling over a weight for the first days "
    "after discharge; time to feel fully recovered; echo after one and six months: the DEFAULTS of "
    "mitrasim.pathway.defaults that name this source, each with the guide's words",
)
citations.register(
    "wilson2021_aha_ie",
    "Wilson WR, Gewitz M, Lockhart PB, et al. Prevention of Viridans Group Streptococcal Infective "
    "Endocarditis: A Scientific Statement From the American Heart Association. Circulation "
    "143:e963-e978 (2021).",
    doi="10.1161/CIR.0000000000000969",
    note="prophylaxis reasonable before dental procedures that manipulate gingival tissue or the "
    "periapical region of teeth or perforate the oral mucosa, in patients with prosthetic material "
    "used for valve repair (annuloplasty rings, chords or clips)",
)
citations.register(
    "delgado2023_esc_ie",
    "Delgado V, Ajmone Marsan N, de Waha S, et al. 2023 ESC Guidelines for the management of "
    "endocarditis. Eur Heart J 44:3948-4042 (2023).",
    doi="10.1093/eurheartj/ehad193",
)
citations.register(
    "teer_antithrombotic_cohort2022",
    "Antithrombotic Treatment and Its Association with Outcome in a Multicenter Cohort of "
    "Transcatheter Edge-to-Edge Mitral Valve Repair Patients. J Cardiovasc Dev Dis 9(11):366 (2022).",
    doi="10.3390/jcdd9110366",
    note="post-procedural antithrombotic therapy is based on local expertise, not evidence; 75.4% of "
    "609 patients had atrial fibrillation, 73.7% were on oral anticoagulants before TEER",
)


@dataclass(frozen=True)
class Default:
    """One default: its value, the citation key behind it and a short note."""

    value: Any
    source: str
    note: str = ""


#: The default table.  Keys are the protocol field names (dotted for nested groups).
DEFAULTS: dict[str, Default] = {
    "preparation_visit_days_before": Default(14, "hospital_protocol", "preparation visit (hospital guide); two weeks before is a hospital setting"),
    "admission_days_before": Default(1, "hospital_protocol", "admitted the day before (hospital setting)"),
    "admission_time": Default("14:00", "hospital_protocol", "hospital setting"),
    "procedure_time": Default("08:30", "hospital_protocol", "hospital setting"),
    "country": Default("FR", "hospital_protocol", "country of the hospital: picks the emergency numbers"),
    "weekend_appointments": Default("next_weekday", "hospital_protocol", "appointments falling on a weekend move to the Monday after"),
    "dental_reminder_days_before": Default(14, "hospital_protocol", "time to see the doctor and get an antibiotic prescription"),
    "no_driving_days": Default(2, "hospital_protocol", "after general anaesthesia (RCoA: at least 24 h) and groin access"),
    "fasting_reminder_time": Default("18:00", "hospital_protocol", "reminder the evening before the fasting starts"),
    "procedure_duration_hours": Default(3.0, "ottawa_mitraclip_guide", "about three hours"),
    "fasting_from": Default("00:00", "mitrasim_patient_seed", "nothing to eat or drink from midnight"),
    "discharge_days_after": Default(1, "sorajja2017_tvt", "home the day after; median stay 2 days"),
    "legs_straight_hours": Default(4, "ottawa_mitraclip_guide", "2-4 h; upper end"),
    "no_bath_days": Default(4, "mitrasim_patient_seed", "3-4 days; upper end"),
    "groin_stiffness_days": Default(4, "mitrasim_patient_seed", "a few days"),
    "no_heavy_lifting_days": Default(5, "ottawa_mitraclip_guide", "first 5 days after discharge"),
    "heavy_lifting_limit_kg": Default(4.5, "ottawa_mitraclip_guide", "10 lb"),
    "full_recovery_days": Default(30, "ottawa_mitraclip_guide", "about one month"),
    "antithrombotic.antiplatelet_months": Default(6, "mitrasim_patient_seed", "at least 6 months"),
    "antithrombotic.dual_antiplatelet_months": Default(
        0, "teer_antithrombotic_cohort2022", "many centres give 1-3 months of two agents; local protocol"
    ),
    "antithrombotic.anticoagulated_continue": Default(
        True, "teer_antithrombotic_cohort2022", "patients on an anticoagulant usually continue it"
    ),
    "antithrombotic.anticoagulated_antiplatelet_months": Default(
        0, "teer_antithrombotic_cohort2022", "local protocol; none added by default"
    ),
    "echo.before_discharge": Default(True, "ottawa_mitraclip_guide", "echo the day after the procedure"),
    "echo.after_days": Default([30], "ottawa_mitraclip_guide", "about one month"),
    "echo.after_months": Default([6], "ottawa_mitraclip_guide", "six months (some centres: one year)"),
    "echo.yearly_for_years": Default(5, "mitrasim_patient_seed", "then yearly; how many years to list is a local choice"),
    "reminders.timed_hours_before": Default([24, 2], "mitrasim", "calendar reminders: a day and two hours before"),
    "reminders.all_day_hours_before": Default(12, "mitrasim", "all-day events: noon the day before"),
    "timezone": Default("Europe/Paris", "hospital_protocol", "time zone of the hospital"),
}

#: Emergency numbers to print for each country (ISO 3166 code), the medical one first.
EMERGENCY_NUMBERS: dict[str, tuple[str, ...]] = {
    "FR": ("15", "112"),
    "BE": ("112",),
    "CH": ("144", "112"),
    "GB": ("999", "112"),
    "CA": ("911",),
    "US": ("911",),
}
EMERGENCY_NUMBERS_SOURCE = "emergency_numbers_official"


def value(key: str) -> Any:
    """The default value stored under ``key`` (a copy for lists)."""
    v = DEFAULTS[key].value
    return list(v) if isinstance(v, list) else v


def source_keys() -> list[str]:
    """Citation keys behind the defaults, unique, in table order."""
    return list(dict.fromkeys(d.source for d in DEFAULTS.values()))
