"""Every piece of patient text of the care plan and the guide, in English.

The English text is the gettext ``msgid``; French (and English) translations
live in the ``.po`` catalogues.  All text is written for this project in plain
language (short sentences, common words) for a patient-leaflet reading age.
Placeholders in braces (``{days}``) are filled after translation.
"""

from __future__ import annotations


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it (translated later)."""
    return message


__all__ = [
    "UI", "EXPLANATION", "SECTION_SOURCES", "MEDICINE", "EVENT_TEXT", "WHEN", "WARNING_SIGNS", "FAST", "FAST_TITLE",
    "SOURCE_LABELS", "WORDS", "explanation_paragraphs", "all_messages",
]

#: Headings and short labels of the guide.
UI: dict[str, str] = {
    "doc_title": N_("Your mitral valve clip: your personal guide"),
    "subtitle": N_("A plan for before, during and after your procedure"),
    "procedure_on": N_("Your procedure is planned for {date}."),
    "research_notice": N_(
        "This guide was made by mitrasim, a tool for research and teaching. It is not a medical device. "
        "Your heart team's advice always comes first."
    ),
    "draft_banner": N_("DRAFT: not for patients. The hospital's phone number is missing."),
    "skip_to_dates": N_("Go to your dates"),
    "h_contacts": N_("Who to call"),
    "h_heart": N_("Your heart and its valves"),
    "h_leak": N_("What is a leaking mitral valve?"),
    "h_who": N_("Who is the clip for?"),
    "h_clip": N_("How the clip helps"),
    "h_how": N_("How it is done"),
    "h_risks": N_("Are there risks?"),
    "h_before": N_("Before the procedure"),
    "h_day": N_("The day of the procedure"),
    "h_after": N_("Going home"),
    "h_medicines": N_("Your medicines"),
    "h_infection": N_("Protecting your heart from infection"),
    "h_checkups": N_("Check-ups"),
    "h_warning": N_("Warning signs: what to do"),
    "h_timeline": N_("Your dates"),
    "h_sources": N_("Sources"),
    "col_date": N_("Date"),
    "col_what": N_("What happens"),
    "col_sign": N_("If you notice"),
    "col_action": N_("What to do"),
    "fig_heart": N_(
        "The heart has four rooms and four valves. The mitral valve sits between the two rooms on the left: "
        "the left atrium above and the left ventricle below."
    ),
    "fig_leak": N_(
        "A leaking mitral valve while the heart squeezes: the valve is closed, but its two flaps do not meet. "
        "Blood leaks back up into the left atrium."
    ),
    "fig_clip": N_("The clip holds the two flaps together where the leak was. Seen from above, blood now flows through two openings."),
    "label_leak": N_("leak"),
    "label_clip": N_("clip"),
    "label_mitral": N_("mitral valve"),
    "label_aortic": N_("aortic valve"),
    "label_tricuspid": N_("tricuspid valve"),
    "label_pulmonary": N_("pulmonary valve"),
    "label_left_atrium": N_("left atrium"),
    "label_left_ventricle": N_("left ventricle"),
    "label_right_atrium": N_("right atrium"),
    "label_right_ventricle": N_("right ventricle"),
    "label_anterior": N_("front flap"),
    "label_posterior": N_("back flap"),
    "label_from_above": N_("seen from above"),
    "hospital": N_("Hospital: {name}"),
    "ward_phone": N_("Ward, day and night: {phone}"),
    "ward_phone_day": N_("Ward: {phone}"),
    "out_of_hours_phone": N_("At night and at weekends: {phone}"),
    "emergency": N_("Emergency: call {number}"),
    "date_at_time": N_("{date}, at {time}"),
    "night_of": N_("the night from {first} to {second}"),
    "from_midnight_night_of": N_("From midnight, {night}"),
    "sources_intro": N_("The advice in this guide comes from these sources:"),
    "fhir_subject": N_("The patient"),
    "footer": N_("mitrasim care plan: research and teaching only, not a medical device"),
}

#: Plain-language explanation paragraphs, by section, each traceable to the hospital guide
#: (``mitrasim_patient_seed``) or to a sourced protocol setting (see SECTION_SOURCES).
EXPLANATION: dict[str, list[str]] = {
    "heart": [
        N_("Your heart is a pump. It sends blood all around your body."),
        N_("The heart has four valves. They keep the blood moving forward."),
        N_(
            "The mitral valve sits between two rooms on the left side of the heart: the left atrium on top "
            "and the left ventricle below. It works like a double door."
        ),
        N_("When the heart squeezes, the mitral valve shuts tight. This stops blood from going back into the left atrium."),
    ],
    "leak": [
        N_("With age or illness, the two flaps of the valve may not close well. Then some blood goes back into the left atrium at each beat."),
        N_("Doctors say the valve leaks. They also call it mitral regurgitation. The leak can be mild, moderate or severe."),
        N_(
            "Over time, a leak can lead to heart failure. You may be short of breath and tired. Water may "
            "build up in your lungs."
        ),
    ],
    "who": [
        N_("When a leak is severe, the usual fix is heart surgery. The surgeon repairs or replaces the valve."),
        N_("Some people are too ill or too frail for surgery. For them, a clip can be a gentler choice."),
        N_(
            "The goal is to help you breathe and feel better, and to keep you out of hospital for heart "
            "failure (water in the lungs)."
        ),
    ],
    "clip": [
        N_("The clip works like a clothes peg. It holds the two flaps of the valve together where they leak the most."),
        N_("This makes the leak much smaller. No cut is made in your chest."),
    ],
    "how": [
        N_(
            "It is done in the heart lab (the cath lab). This is the same kind of room where doctors put in "
            "stents."
        ),
        N_("You are fully asleep (general anaesthesia). You will not feel it."),
        N_("The doctor puts a thin tube into a large vein at the top of your leg, in the groin. The tube goes up to the heart."),
        N_(
            "To reach the mitral valve, the doctor makes a small hole in the thin wall between the two top "
            "rooms of the heart."
        ),
        N_(
            "A small ultrasound probe in your food pipe shows the valve. The doctor uses it to find the "
            "leak, grab the edges of the two flaps and close the clip."
        ),
        N_("The doctor checks the leak right away. If it is still too big, the doctor may put in a second clip."),
    ],
    "risks": [
        N_("As with any procedure through a blood vessel, the main risk is bleeding."),
        N_(
            "Other problems are rare. Each one happens to less than 1 person in 100: blood that collects "
            "around the heart, a stroke, or the need for urgent heart surgery."
        ),
        N_("A clip coming fully loose has never been seen. Your doctor will talk with you about the risks."),
    ],
    "before": [
        N_("You will come to the hospital for a visit to prepare. The team explains the procedure, answers your questions and takes blood tests."),
        N_("For the procedure itself, you stay in the hospital for about two days."),
    ],
    "day": [
        N_("From midnight the night before, do not eat or drink anything, unless the team tells you otherwise."),
        N_("You get ready in the recovery room, next to the heart lab. You take off all your clothes and put on a hospital gown."),
        N_("A nurse puts a small tube (a drip) in a vein of your arm. It is used to give you medicines."),
        N_("The hair of your groin is shaved, because the tube goes into the vein there, on the right or the left."),
        N_(
            "You go to the heart lab on a stretcher. The team takes the same care as in an operating room "
            "to stop germs."
        ),
        N_("The table may feel hard. The room is cool, even cold. The X-ray machines need it."),
        N_("You get a medicine to help you relax. Then you are put fully to sleep."),
        N_("Your groins are cleaned with a special liquid. A clean sheet is put over your body."),
        N_("After the procedure, keep your legs straight for a few hours to protect the groin."),
    ],
    "after": [
        N_("If all goes well, you go home the day after the procedure."),
        N_("Do not drive for {days} days: you had a general anaesthetic and your groin must heal. Ask someone to drive you home."),
        N_("Start your daily activities again slowly, over a few days. Most people feel fully well after about {days} days."),
        N_("Do not take a bath or go to a swimming pool for {days} days. You may take a shower."),
        N_("Your groin may feel a bit stiff for a few days. Dry heat or a warm water bottle can soothe it."),
        N_("Do not lift, push or pull anything heavier than {kg} kg for {days} days."),
    ],
    "infection": [
        N_("The clip stays in your heart. If germs get into your blood, the clip can get infected."),
        N_("So keep your mouth clean: brush your teeth well every day and see your dentist."),
        N_(
            "Before some dental care or some operations, you may need an antibiotic. Always tell your "
            "dentist and your doctors that you have a clip in your heart. Ask for it at least {days} days ahead."
        ),
    ],
    "checkups": [
        N_("Before you go home, the team checks the clip with an ultrasound of the heart (an echo). It does not hurt."),
        N_("After that, the doctor who sent you for the procedure follows you."),
        N_("Over time, you will have more echos. They check the leak and how well your heart works. Your dates are below."),
    ],
}

#: Where each explanation section comes from (citation keys): the guide's statements are the hospital guide's,
#: numbers that a hospital sets come from its protocol, the rest from the named source.
SECTION_SOURCES: dict[str, tuple[str, ...]] = {
    "heart": ("mitrasim_patient_seed",),
    "leak": ("mitrasim_patient_seed",),
    "who": ("mitrasim_patient_seed",),
    "clip": ("mitrasim_patient_seed",),
    "how": ("mitrasim_patient_seed",),
    "risks": ("mitrasim_patient_seed",),
    "before": ("mitrasim_patient_seed",),
    "day": ("mitrasim_patient_seed", "hospital_protocol", "ottawa_mitraclip_guide"),
    "after": ("mitrasim_patient_seed", "rcoa_after_ga", "hospital_protocol", "ottawa_mitraclip_guide"),
    "infection": ("mitrasim_patient_seed", "wilson2021_aha_ie", "delgado2023_esc_ie", "hospital_protocol"),
    "checkups": ("mitrasim_patient_seed", "ottawa_mitraclip_guide"),
}

#: Medicine paragraphs (one is chosen by the patient's facts).
MEDICINE: dict[str, str] = {
    "antiplatelet": N_(
        "After the procedure, you take a blood thinner for at least {months} months. It is a medicine that "
        "slows down the platelets (an antiplatelet). Do not stop it without asking your doctor."
    ),
    "dual": N_("For the first {months} months, you take two of these medicines. Then you take one."),
    "anticoagulant": N_(
        "You already take a blood thinner (an anticoagulant). In most cases you keep taking it after the "
        "procedure. Your doctor tells you when to pause it before the procedure, and when to start it again."
    ),
    "anticoagulant_plus": N_("For the first {months} months, your doctor adds a second medicine (an antiplatelet)."),
    "bleeding": N_("These medicines can make you bleed more easily. Tell every doctor and dentist that you take them."),
}

#: Titles and descriptions of calendar events (code -> (title, description)).
EVENT_TEXT: dict[str, tuple[str, str]] = {
    "prep_visit": (
        N_("Visit to prepare for your mitral clip"),
        N_("The team explains the procedure, answers your questions and takes blood tests."),
    ),
    "admission": (
        N_("Go to the hospital (admission)"),
        N_("You stay in the hospital for about two days. Bring what you need for a short stay."),
    ),
    "hospital_stay": (
        N_("Hospital stay"),
        N_("You stay about {nights} nights in hospital."),
    ),
    "fasting": (
        N_("Nothing to eat or drink until your procedure"),
        N_("From {time} on {date}, do not eat or drink anything, unless the team tells you otherwise."),
    ),
    "fasting_midnight": (
        N_("Nothing to eat or drink until your procedure"),
        N_(
            "You may eat and drink as usual until midnight on the evening of {evening}. From midnight, do not "
            "eat or drink anything, unless the team tells you otherwise."
        ),
    ),
    "procedure": (
        N_("Your mitral clip procedure"),
        N_(
            "You are fully asleep. A small ultrasound probe in your food pipe guides the doctor. Afterwards, keep "
            "your legs straight for about {hours} hours."
        ),
    ),
    "no_driving": (
        N_("Do not drive"),
        N_("Do not drive for {days} days after the procedure. Ask someone to drive you home."),
    ),
    "echo_discharge": (
        N_("Heart ultrasound (echo) before you go home"),
        N_("An echo checks the clip before you leave the hospital."),
    ),
    "discharge": (
        N_("Expected day to go home"),
        N_("If all goes well, you go home today. Ask for your letter, your medicines and your next dates."),
    ),
    "no_bath": (
        N_("No bath or swimming pool (shower allowed)"),
        N_("Do not take a bath or go to a swimming pool for {days} days. A shower is fine. Dry heat may soothe a stiff groin."),
    ),
    "no_lifting": (
        N_("No heavy lifting (more than {kg} kg)"),
        N_("Do not lift, push or pull anything heavier than {kg} kg. Walk a little each day."),
    ),
    "recovery": (
        N_("About one month since your procedure"),
        N_("Most people feel fully well by now. Tell your doctor if you still feel very tired or short of breath."),
    ),
    "antiplatelet": (
        N_("Antiplatelet medicine"),
        N_("Take your antiplatelet medicine every day until at least {end}. Do not stop it without asking your doctor."),
    ),
    "dual_antiplatelet": (
        N_("Two antiplatelet medicines"),
        N_("Take both antiplatelet medicines every day until {end}. Then your doctor tells you which one to keep."),
    ),
    "anticoagulant": (
        N_("Restart your blood thinner when the team tells you"),
        N_("Start your anticoagulant again on the day the team tells you. Then take it every day."),
    ),
    "anticoagulant_antiplatelet": (
        N_("Extra antiplatelet medicine"),
        N_("Take the extra antiplatelet medicine with your anticoagulant until {end}."),
    ),
    "medicine_review": (
        N_("Medicine review with your doctor"),
        N_("Ask your doctor whether to keep, change or stop your blood-thinning medicine."),
    ),
    "echo": (
        N_("Heart ultrasound (echo) check-up"),
        N_("A check of the clip and the leak, {when} after your procedure."),
    ),
    "dental_after": (
        N_("Dental care: you may need an antibiotic"),
        N_(
            "You have a clip in your heart. Before care on the gums or the roots of the teeth, you may need an "
            "antibiotic. Ask your doctor or dentist for it at least {days_ahead} days before."
        ),
    ),
    "dental_before": (
        N_("Dental care before your procedure"),
        N_("Tell your dentist that a heart procedure is planned. Tell the heart team about this dental care."),
    ),
    "surgery_after": (
        N_("Planned operation: tell the team about your clip"),
        N_(
            "You have a clip in your heart. Before some operations you may need an antibiotic, and your "
            "blood-thinning medicine may need a pause. Ask the team at least {days_ahead} days before."
        ),
    ),
    "surgery_before": (
        N_("Planned operation before your procedure"),
        N_("Tell the heart team about this operation. The date of your clip procedure may need to change."),
    ),
}

#: Words the date and list formatting of :mod:`mitrasim.pathway.i18n` uses.
WORDS: dict[str, str] = {
    "midnight": N_("midnight"),
    "noon": N_("noon"),
    "range": N_("from {start} to {end}"),
    "or": N_("{first} or {last}"),
}

#: How long after the procedure an echo is, used in the "echo" description.
WHEN: dict[str, str] = {
    "days": N_("{n} days"),
    "months": N_("{n} months"),
    "one_year": N_("one year"),
    "years": N_("{n} years"),
}

#: Warning signs and what to do: (sign, action).  ``{ward}`` is the ward's telephone line of the contacts box.
WARNING_SIGNS: list[tuple[str, str]] = [
    (
        N_("Bleeding from the groin"),
        N_("Lie down. Press hard on the spot with a clean cloth. If it does not stop, call {emergency}."),
    ),
    (
        N_("A lump in the groin that grows, pain in the leg, or a cold or numb leg"),
        N_("Call the ward the same day (the number is at the top of this guide). If it is severe, call {emergency}."),
    ),
    (N_("Pain or pressure in the chest"), N_("Stop and rest. Call {emergency} at once.")),
    (
        N_("New or worse shortness of breath, swollen ankles, or fast weight gain"),
        N_("Call the ward or your doctor the same day. If you are short of breath at rest, call {emergency}."),
    ),
    (N_("Fever or chills"), N_("Call your doctor the same day. Tell them you have a clip in your heart.")),
    (N_("Signs of a stroke (see FAST below)"), N_("Call {emergency} at once. Note the time the signs started.")),
]

#: Stroke signs, FAST in English and VITE in French: (letter, text).
FAST: list[tuple[str, str]] = [
    (N_("F"), N_("Face: one side of the face droops.")),
    (N_("A"), N_("Arm: one arm or leg is weak or numb.")),
    (N_("S"), N_("Speech: speech is slurred or strange.")),
    (N_("T"), N_("Time: call {emergency} at once.")),
]
FAST_TITLE = N_("FAST: signs of a stroke")

#: A plain description of each source, in the patient's language, shown before its reference.
SOURCE_LABELS: dict[str, str] = {
    "mitrasim_patient_seed": N_("The hospital's patient leaflet on the mitral clip."),
    "hospital_protocol": N_("Your hospital's own rules: times, phone numbers, dates of visits."),
    "ottawa_mitraclip_guide": N_("The patient guide of the University of Ottawa Heart Institute."),
    "sorajja2017_tvt": N_("A large study of mitral clips in the United States: time spent in hospital."),
    "teer_antithrombotic_cohort2022": N_("A study of blood-thinning medicines after a mitral clip."),
    "wilson2021_aha_ie": N_("Advice of the American Heart Association on antibiotics before dental care."),
    "delgado2023_esc_ie": N_("Guidelines of the European Society of Cardiology on heart infections."),
    "rcoa_after_ga": N_("Advice of the Royal College of Anaesthetists on driving after being put to sleep."),
    "emergency_numbers_official": N_("Official emergency phone numbers."),
    "rnib_clear_print": N_("Advice of the Royal National Institute of Blind People on print that is easy to read."),
    "mitrasim": N_("The mitrasim project, which made this guide."),
}


def explanation_paragraphs() -> list[str]:
    """All English explanation paragraphs, in guide order (for the readability check)."""
    out: list[str] = []
    for paras in EXPLANATION.values():
        out.extend(paras)
    return out


def all_messages() -> list[str]:
    """Every msgid defined in this module, unique, in order."""
    msgs: list[str] = list(UI.values()) + explanation_paragraphs() + list(MEDICINE.values())
    for t, d in EVENT_TEXT.values():
        msgs += [t, d]
    msgs += list(WORDS.values()) + list(WHEN.values())
    for s, a in WARNING_SIGNS:
        msgs += [s, a]
    for letter, text in FAST:
        msgs += [letter, text]
    msgs.append(FAST_TITLE)
    msgs += list(SOURCE_LABELS.values())
    return list(dict.fromkeys(msgs))
