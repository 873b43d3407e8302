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

__all__ = ["LANGUAGES", "DOMAIN", "N_", "check_lang", "po_path", "catalog", "translator", "format_date", "format_time", "format_number", "format_datetime_range"]

LANGUAGES: tuple[str, ...] = ("en", "fr")
DOMAIN = "mitrasim"


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it (translated later)."""
    return message


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
        return out.format(**fields) if fields else out

    return _


def format_date(day: dt.date, lang: str, fmt: str = "full") -> str:
    """``day`` written the way ``lang`` writes dates (Babel's ``full``/``long``/``medium``)."""
    return _babel_format_date(day, format=fmt, locale=Locale.parse(check_lang(lang)))


def format_number(x: float, lang: str) -> str:
    """A number written per ``lang`` (4.5 in English, 4,5 in French), at most 2 decimals."""
    from babel.numbers import format_decimal

    return format_decimal(round(float(x), 2), format="#,##0.##", locale=Locale.parse(check_lang(lang)))


def format_time(t: dt.time, lang: str) -> str:
    """A time of day in the short form of ``lang`` (08:30 in French, 8:30 AM in English)."""
    return _babel_format_time(t, format="short", locale=Locale.parse(check_lang(lang)))


def format_datetime_range(start: dt.date, end: dt.date, lang: str) -> str:
    """A date range (inclusive end) written per ``lang``."""
    if start == end:
        return format_date(start, lang, "long")
    from babel.dates import format_interval

    return format_interval(start, end, skeleton="yMMMd", locale=Locale.parse(lang))
