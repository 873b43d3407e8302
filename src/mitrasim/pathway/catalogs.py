"""Maintain the gettext catalogues of the patient's path (a developer tool).

``python -m mitrasim.pathway.catalogs`` extracts every message marked with
``N_`` in this package (Babel's Python extractor), writes ``locale/mitrasim.pot``
and updates each ``locale/<lang>/LC_MESSAGES/mitrasim.po``: new messages are added
with an empty translation (English ones are filled with the message itself),
translations of removed messages are dropped.  :func:`missing` lists what is
untranslated; the test suite fails on any.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from mitrasim.pathway.i18n import DOMAIN, LANGUAGES

__all__ = ["package_dir", "extract", "update", "missing", "placeholder_mismatches"]

_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def package_dir() -> Path:
    """The source folder of :mod:`mitrasim.pathway`."""
    return Path(__file__).resolve().parent


def extract() -> Catalog:
    """All ``N_``-marked messages of the package's Python files, as a template catalogue."""
    cat = Catalog(domain=DOMAIN, project="mitrasim", version="0.1", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        str(package_dir()), method_map=[("**.py", "python")], keywords={"N_": None}
    ):
        cat.add(message, locations=[(f"pathway/{filename}", lineno)], auto_comments=comments, context=context)
    return cat


def _po_file(lang: str) -> Path:
    return package_dir() / "locale" / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def update() -> None:
    """Write the template and merge it into each language's ``.po`` file."""
    template = extract()
    locale_dir = package_dir() / "locale"
    with open(locale_dir / f"{DOMAIN}.pot", "wb") as fh:
        write_po(fh, template, omit_header=False, sort_output=False, width=100, no_location=True)
    for lang in LANGUAGES:
        path = _po_file(lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with open(path, "rb") as fh:
                cat = read_po(fh, locale=lang, domain=DOMAIN)
            cat.update(extract(), no_fuzzy_matching=True)  # a fresh template: update() shares its messages
            cat.obsolete.clear()
        else:
            cat = Catalog(locale=lang, domain=DOMAIN, project="mitrasim", version="0.1", fuzzy=False)
            for m in template:
                if m.id:
                    cat.add(m.id, locations=m.locations)
        if lang == "en":
            for m in cat:
                if m.id and not m.string:
                    m.string = m.id
        with open(path, "wb") as fh:
            write_po(fh, cat, sort_output=False, width=100, no_location=True, include_previous=False)


def missing(lang: str) -> list[str]:
    """Messages of the package with no (or a fuzzy) translation in ``lang``."""
    with open(_po_file(lang), "rb") as fh:
        cat = read_po(fh, locale=lang, domain=DOMAIN)
    out: list[str] = []
    for m in extract():
        if not m.id:
            continue
        t = cat.get(m.id)
        if t is None or not t.string or t.fuzzy:
            out.append(str(m.id))  # the package has no plural messages: every id is one string
    return out


def placeholder_mismatches(lang: str) -> list[str]:
    """Messages whose translation in ``lang`` does not keep the same ``{placeholders}``."""
    with open(_po_file(lang), "rb") as fh:
        cat = read_po(fh, locale=lang, domain=DOMAIN)
    return [str(m.id) for m in cat
            if m.id and m.string and sorted(_PLACEHOLDER.findall(str(m.id))) != sorted(_PLACEHOLDER.findall(str(m.string)))]


if __name__ == "__main__":  # pragma: no cover - developer tool
    update()
    for lang in LANGUAGES:
        print(lang, "missing:", len(missing(lang)), file=sys.stderr)
