"""Every piece of patient text of the care plan and the guide, in English.

The English text is the gettext ``msgid``; French (and English) translations
live in the ``.po`` catalogues.  All text is written for this project in plain
language (short sentences, common words) for a patient-leaflet reading age.
Placeholders in braces (``{days}``) are filled after translation.
"""

from __future__ import annotations

from mitrasim.pathway.i18n import N_

__all__ = ["UI", "EXPLANATION", "MEDICINE", "EVENT_TEXT", "WHEN", "WARNING_SIGNS", "FAST", "FAST_TITLE", "explanation_paragraphs", "all_messages"]

#: Headings and short labels of the guide.
UI: dict[str, str] = {
    "doc_title": N_("Your mitral valve clip: your personal guide"),
    "subtitle": N_("A plan for before, during and after your procedure"),
    "procedure_on": N_("Your procedure is planned for {date}."),
    "research_notice": N_(
        "This guide was made by mitrasim, a research and teaching tool. It is not a medical device. "
        "Your heart team's advice always comes first."
    ),
    "h_heart": N_("Your heart and its valves"),
    "h_leak": N_("What is a leaking mitral valve?"),
    "h_clip": N_("How the clip helps"),
    "h_before": N_("Before the procedure"),
    "h_day": N_("The day of the procedure"),
    "h_after": N_("Going home"),
    "h_medicines": N_("Your medicines"),
    "h_infection": N_("Protecting your heart from infection"),
    "h_checkups": N_("Check-ups"),
    "h_warning": N_("Warning signs: what to do"),
    "h_timeline": N_("Your dates"),
    "h_valve": N_("Your valve: what the simulation predicts"),
    "h_sources": N_("Sources"),
    "col_date": N_("Date"),
    "col_what": N_("What happens"),
    "col_sign": N_("If you notice"),
    "col_action": N_("What to do"),
    "fig_heart": N_("The heart has four rooms and four valves. The mitral valve sits between the two rooms on the left."),
    "fig_leak": N_("A leaking mitral valve: the two flaps do not meet, so blood flows back."),
    "fig_clip": N_("The clip holds the two flaps together in the middle. Blood now flows through two openings."),
    "fig_case": N_("Your valve seen from above, before and after. The dots show where the clips go."),
    "label_before": N_("Before"),
    "label_after": N_("After"),
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
    "case_leak_area": N_("Size of the leak: {before} cm² before, {after} cm² after (a drop of {percent}%)."),
    "case_grade": N_("Leak grade: {before} before, {after} after (on a scale from 0 to 4+)."),
    "case_gradient": N_("Pressure drop across the valve after the clip: {value} mmHg."),
    "case_area": N_("Opening of the valve after the clip: {value} cm²."),
    "case_clips": N_("Number of clips: {count}."),
    "case_disclaimer": N_(
        "These numbers come from a computer model for research and teaching. They are not a "
        "medical result and must not be used to make decisions about your care."
    ),
    "contact": N_("Hospital: {name}. Phone: {phone}."),
    "emergency": N_("Emergency number: {number}."),
    "sources_intro": N_("The advice and numbers in this guide come from these sources:"),
    "short_disclaimer": N_("Computer model for research and teaching only: not a medical result."),
    "footer": N_("mitrasim care plan: research and teaching only, not a medical device"),
}

#: Plain-language explanation paragraphs, by section (English is the readability target).
EXPLANATION: dict[str, list[str]] = {
    "heart": [
        N_("Your heart is a pump. It has four rooms. Blood comes in at the top and is pushed out at the bottom."),
        N_(
            "Four valves work like doors. They open to let blood pass. Then they shut so blood does not go "
            "back the wrong way."
        ),
        N_("The mitral valve is on the left side of the heart. It has two thin flaps."),
    ],
    "leak": [
        N_("When the mitral valve is weak, the two flaps do not close well. Each beat, some blood leaks back."),
        N_("Doctors call this mitral regurgitation or a leaking mitral valve."),
        N_(
            "The heart has to work harder. You may feel tired or short of breath. Your ankles may swell. "
            "Over time, the leak can make the heart weaker."
        ),
    ],
    "clip": [
        N_("The clip is a small metal device covered with cloth. It is about the size of a pea."),
        N_(
            "The doctor puts a thin tube into a large vein at the top of your leg, in the groin. The tube "
            "goes up to the heart. No cut is made in your chest."
        ),
        N_(
            "The doctor grips the two flaps with the clip and holds them together. This makes the leak "
            "smaller. Sometimes two or more clips are needed."
        ),
        N_("The clip stays in your heart for good. Over time, your body grows a thin layer of tissue over it."),
        N_(
            "The most common problem is bleeding at the groin. Serious problems are rare. Your doctor will "
            "talk with you about the risks."
        ),
    ],
    "before": [
        N_("You will come to the hospital for a visit to prepare. The team explains the procedure and answers your questions."),
        N_("You will have blood tests. Bring the list of all the medicines you take."),
        N_("Ask your doctor which medicines to stop before the procedure, and when."),
        N_("Do not eat or drink anything from midnight before the procedure, unless you are told to."),
    ],
    "day": [
        N_("A nurse puts a small tube (a drip) in a vein of your arm. The skin of your groin is cleaned and the hair is shaved."),
        N_("You are fully asleep during the procedure. You feel no pain."),
        N_(
            "The doctor watches the clip with an ultrasound probe passed down your throat into the food pipe. "
            "You are asleep, so you do not feel it."
        ),
        N_("After the procedure, keep your legs straight for a few hours to protect the groin."),
    ],
    "after": [
        N_("If all goes well, you go home the day after the procedure."),
        N_("Do not take a bath or go to a swimming pool for {days} days. You may take a shower."),
        N_("Your groin may feel stiff for a few days. Dry heat on the spot may help."),
        N_("Do not lift, push or pull anything heavier than {kg} kg for {days} days."),
        N_("Start your daily activities again slowly, over a few days. Most people feel fully well after about {days} days."),
    ],
    "infection": [
        N_("Germs in the blood can settle on the clip and cause a serious heart infection."),
        N_("Brush your teeth well every day. See your dentist for a check-up at least once a year."),
        N_(
            "Before some dental care and some operations, you may need an antibiotic. Always tell your "
            "dentist and your doctors that you have a clip in your heart."
        ),
    ],
    "checkups": [
        N_("An ultrasound of the heart (an echo) checks the clip and the leak. It does not hurt."),
        N_("You will have an echo before you go home, then at the dates below, then once a year."),
    ],
}

#: Medicine paragraphs (one is chosen by the patient's facts).
MEDICINE: dict[str, str] = {
    "antiplatelet": N_(
        "You will take a medicine that stops blood cells from sticking together (an antiplatelet) for at "
        "least {months} months. Do not stop it without asking your doctor."
    ),
    "dual": N_("For the first {months} months, you will take two of these medicines. Then you will take one."),
    "anticoagulant": N_(
        "You already take a blood thinner (an anticoagulant). In most cases you keep taking it after the "
        "procedure. Your doctor will tell you when to stop it before, and when to start it again."
    ),
    "anticoagulant_plus": N_("For the first {months} months, your doctor adds a second medicine (an antiplatelet)."),
    "bleeding": N_("These medicines can make you bleed more easily. Tell every doctor and dentist that you take them."),
}

#: Titles and descriptions of calendar events (code -> (title, description)).
EVENT_TEXT: dict[str, tuple[str, str]] = {
    "prep_visit": (
        N_("Preparation visit for your mitral clip"),
        N_("The team explains the procedure and you have blood tests. Bring the list of your medicines and your questions."),
    ),
    "admission": (
        N_("Go to the hospital (admission)"),
        N_("Bring your medicines, your glasses and what you need for a short stay. Leave valuables at home."),
    ),
    "hospital_stay": (
        N_("Hospital stay"),
        N_("You stay about {nights} nights in hospital."),
    ),
    "fasting": (
        N_("Nothing to eat or drink"),
        N_("From {time}, do not eat or drink anything, unless the team tells you otherwise."),
    ),
    "fasting_midnight": (
        N_("Nothing to eat or drink"),
        N_("From midnight, do not eat or drink anything, unless the team tells you otherwise."),
    ),
    "procedure": (
        N_("Your mitral clip procedure"),
        N_(
            "You get a drip in your arm and your groin is prepared. You are fully asleep. An ultrasound probe "
            "in your food pipe guides the doctor. Afterwards, keep your legs straight for about {hours} hours."
        ),
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
        N_("Keep the groin clean and dry. A shower is fine. The groin may feel stiff; dry heat may help."),
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
        N_("Take both antiplatelet medicines every day until {end}. Then your doctor will tell you which one to keep."),
    ),
    "anticoagulant": (
        N_("Keep taking your blood thinner"),
        N_("Start your anticoagulant again when the team tells you, and keep taking it every day."),
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
        N_("A check of the clip and the leak, {when} after your procedure. Bring your list of medicines."),
    ),
    "dental_after": (
        N_("Dental care: tell your dentist about your clip"),
        N_(
            "You have a clip in your heart. Before care on the gums or the roots of the teeth, you may need "
            "an antibiotic to protect the clip from infection. Ask your doctor or dentist for it ahead of time."
        ),
    ),
    "dental_before": (
        N_("Dental care before your procedure"),
        N_("Tell your dentist that a heart procedure is planned. Tell the heart team about this dental care."),
    ),
    "surgery_after": (
        N_("Planned operation: tell the team about your clip"),
        N_(
            "You have a clip in your heart. Tell the surgical team. Before some operations you may need an "
            "antibiotic, and your blood-thinning medicine may need to be paused. Ask them ahead of time."
        ),
    ),
    "surgery_before": (
        N_("Planned operation before your procedure"),
        N_("Tell the heart team about this operation. The date of your clip procedure may need to change."),
    ),
}

#: How long after the procedure an echo is, used in the "echo" description.
WHEN: dict[str, str] = {
    "days": N_("{n} days"),
    "months": N_("{n} months"),
    "one_year": N_("one year"),
    "years": N_("{n} years"),
}

#: Warning signs and what to do: (sign, action).
WARNING_SIGNS: list[tuple[str, str]] = [
    (
        N_("Bleeding from the groin"),
        N_("Lie down. Press firmly on the spot with a clean cloth. If it does not stop, call {emergency}."),
    ),
    (
        N_("A lump or swelling in the groin that grows, or pain in the leg, or a cold or numb leg"),
        N_("Call the hospital the same day. If it is severe, call {emergency}."),
    ),
    (N_("Pain or pressure in the chest"), N_("Stop and rest. Call {emergency} at once.")),
    (
        N_("New or worse shortness of breath, swollen ankles, or fast weight gain"),
        N_("Call your doctor the same day. If you are short of breath at rest, call {emergency}."),
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
    msgs += list(WHEN.values())
    for s, a in WARNING_SIGNS:
        msgs += [s, a]
    for letter, text in FAST:
        msgs += [letter, text]
    msgs.append(FAST_TITLE)
    return list(dict.fromkeys(msgs))
