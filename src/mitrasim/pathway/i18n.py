"""Translations of the patient's path (gettext catalogues managed with Babel).

Messages are marked in the source with :func:`N_` and translated at render time
with :func:`translator`.  The catalogues are the committed ``.po`` files under
``locale/<lang>/LC_MESSAGES/mitrasim.po``; they are compiled to ``.mo`` in memory
when first used, so an installed package needs only the ``.po`` files (shipped as
package data).  Dates are formatted per locale with Babel.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from functools import lru_cache
from gettext import GNUTranslations, NullTranslations
from importlib import resources
from typing import Callable

from babel import Locale
from babel.dates import format_date as _babel_format_date
from babel.dates import format_time as _babel_format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from mitrasim.errors import InputError
from mitrasim.pathway.texts import N_  # noqa: F401  (defined with the texts it marks; re-exported)

__all__ = [
    "LANGUAGES", "DOMAIN", "N_", "check_lang", "po_path", "catalog", "translator", "format_date", "format_time",
    "format_number", "format_datetime_range", "format_list", "french_typography", "NBSP", "NNBSP",
]

#: No-break space (before « : » and inside « guillemets ») and narrow no-break space (before ; ! ?).
NBSP, NNBSP = "\u00a0", "\u202f"
_FR_FIRST = re.compile(r"(?<![0-9])1 (?=(janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre)\b)")
_FR_BEFORE_COLON = re.compile(r"[ \u00a0\u202f]?:(?=\s|$)")
_FR_NUMBER_SPACE = re.compile(r"(\d) (?=[^\W\d])")  # a number and its unit or noun stay on one line: 4,5 kg, 15 mars
_FR_BEFORE_PUNCT = re.compile(r"[ \u00a0\u202f]?([;!?])(?=\s|$|\))")

LANGUAGES: tuple[str, ...] = ("en", "fr")
DOMAIN = "mitrasim"




def check_lang(lang: str) -> str:
    """Return ``lang`` if supported, else raise :class:`InputError`."""
    if lang not in LANGUAGES:
        raise InputError("lang", lang, " | ".join(LANGUAGES))
    return lang


def po_path(lang: str):
    """The packaged ``.po`` file of ``lang`` (an importlib resource)."""
    return resources.files("mitrasim.pathway").joinpath("locale", lang, "LC_MESSAGES", f"{DOMAIN}.po")


@lru_cache(maxsize=None)
def catalog(lang: str):
    """The Babel catalogue of ``lang`` read from its ``.po`` file."""
    check_lang(lang)
    with po_path(lang).open("rb") as fh:
        return read_po(fh, locale=lang, domain=DOMAIN)


@lru_cache(maxsize=None)
def _translations(lang: str) -> NullTranslations:
    buf = io.BytesIO()
    write_mo(buf, catalog(lang), use_fuzzy=False)
    buf.seek(0)
    return GNUTranslations(buf)


def translator(lang: str) -> Callable[..., str]:
    """A function ``_(msgid, **fields)`` giving the translation of ``msgid`` in ``lang``.

    Named fields are substituted with :meth:`str.format` after translation, so
    translators move ``{date}``-style placeholders freely.
    """
    tr = _translations(check_lang(lang))

    def _(message: str, /, **fields: object) -> str:
        out = tr.gettext(message)
        out = out.format(**fields) if fields else out
        return french_typography(out) if lang == "fr" else out

    return _


def french_typography(text: str) -> str:
    """French spacing (Lexique des règles typographiques de l'Imprimerie nationale): a no-break space before
    « : », a narrow no-break space before « ; ! ? », no-break spaces inside « guillemets » and between a
    number and the word after it (4,5 kg, 15 mars)."""
    text = _FR_NUMBER_SPACE.sub("\\1" + NBSP, text)
    text = _FR_BEFORE_COLON.sub(NBSP + ":", text)
    text = _FR_BEFORE_PUNCT.sub(NNBSP + r"\1", text)
    return text.replace("« ", "«" + NBSP).replace(" »", NBSP + "»")


def format_date(day: dt.date, lang: str, fmt: str = "full") -> str:
    """``day`` written the way ``lang`` writes dates (Babel's ``full``/``long``); French writes the first « 1er »."""
    out = _babel_format_date(day, format=fmt, locale=Locale.parse(check_lang(lang)))
    return _FR_FIRST.sub("1er ", out) if lang == "fr" else out


def format_number(x: float, lang: str) -> str:
    """A number written per ``lang`` (4.5 in English, 4,5 in French), at most 2 decimals."""
    from babel.numbers import format_decimal

    return format_decimal(round(float(x), 2), format="#,##0.##", locale=Locale.parse(check_lang(lang)))


def format_time(t: dt.time, lang: str) -> str:
    """A time of day as ``lang`` writes it: 14 h 00 in French, 2:00 PM in English; midnight and noon as words."""
    from mitrasim.pathway.texts import WORDS

    _ = translator(lang)
    if t == dt.time(0, 0):
        return _(WORDS["midnight"])
    if t == dt.time(12, 0):
        return _(WORDS["noon"])
    if lang == "fr":  # the French usage for times in running text: 8 h 30, 14 h (Imprimerie nationale)
        return f"{t.hour}{NBSP}h" + (f"{NBSP}{t.minute:02d}" if t.minute else "")
    return _babel_format_time(t, format="short", locale=Locale.parse(check_lang(lang)))


def format_datetime_range(start: dt.date, end: dt.date, lang: str) -> str:
    """A date range (inclusive end) written in full per ``lang``: « from Monday 1 March to Friday 5 March 2027 »."""
    if start == end:
        return format_date(start, lang, "full")
    from mitrasim.pathway.texts import WORDS

    return translator(lang)(WORDS["range"], start=format_date(start, lang, "full"), end=format_date(end, lang, "full"))


def format_list(items: tuple[str, ...] | list[str], lang: str) -> str:
    """``a``, ``a or b``, ``a, b or c`` in ``lang`` (alternatives, as emergency numbers are; French repeats
    the article: « appelez le 15 ou le 112 »)."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    from mitrasim.pathway.texts import WORDS

    return translator(lang)(WORDS["or"], first=", ".join(items[:-1]), last=items[-1])
