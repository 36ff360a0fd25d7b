"""Country names for lexical matching: a query that says "British" also matches "UK" and "United Kingdom".

Names, demonyms and alternative spellings come from the ``countryinfo`` package. A form shared by
several countries ("American", "French") stands for the most populous of them. Two- and
three-letter ISO codes never trigger an expansion ("AI" is Anguilla's, "IT" Italy's) and are
never added, except "US" and "USA", which prose writes as names; other all-capital forms such as "UK" match only in capitals.
"""
from __future__ import annotations

import re
from functools import lru_cache

_WRITTEN_CODES = {"US", "USA"}  # codes that prose writes as names ("the US withdrawal"), in capitals only
_MAX_WORDS = 4  # longer official names ("United Kingdom of Great Britain and Northern Ireland") add noise
# Short forms prose uses that ``countryinfo`` lacks. They match names ("Korea" in a question, "ROK-US" in a
# release) but expand no search: as expansions they pulled other passages ahead (seeds hit@1 0.673 -> 0.655).
_SHORT_FORMS = {"south korea": ("Korea", "Korean", "ROK"), "united kingdom": ("Britain",)}
_SHORT = frozenset(f for forms in _SHORT_FORMS.values() for f in forms)
_OPENS_NAME = re.compile(r"[ \t]+[A-Z]")  # a form followed by a capitalised word opens a name


def _key(form: str) -> str:
    """How a form is looked up: all-capital forms ("UK") as written, others case-folded."""
    return form if form.isupper() else form.lower()


@lru_cache(maxsize=1)
def _countries() -> tuple[re.Pattern, dict[str, tuple[str, ...]]]:
    """One pattern over every form, and the forms of each form's country, by ``_key``."""
    from countryinfo import CountryInfo

    owner: dict[str, tuple[int, str]] = {}  # form -> (population, country key)
    forms_of: dict[str, list[str]] = {}
    for key, info in CountryInfo.all().items():
        iso = {str(code) for code in (info.get("ISO") or {}).values() if code}
        names = [info.get("name") or "", info.get("demonym") or "", *(info.get("altSpellings") or [])]
        forms = [f.strip() for f in names if f and (f.strip() not in iso or f.strip() in _WRITTEN_CODES) and "," not in f
                 and len(f.split()) <= _MAX_WORDS and len(f.strip()) > 1]
        forms_of[key] = list(dict.fromkeys([*forms, *_SHORT_FORMS.get(key, ())]))
        for form in forms_of[key]:
            population = info.get("population") or 0
            if form not in owner or population > owner[form][0]:
                owner[form] = (population, key)
    by_form = {form: tuple(forms_of[key]) for form, (_, key) in owner.items()}
    exact = sorted((f for f in by_form if f.isupper()), key=len, reverse=True)
    folded = sorted((f for f in by_form if not f.isupper()), key=len, reverse=True)
    pattern = re.compile(
        r"(?<!\w)(?:" + "|".join(map(re.escape, exact)) + r"|(?i:" + "|".join(map(re.escape, folded)) + r"))(?!\w)")
    lookup = {_key(f): forms for f, forms in by_form.items()}
    return pattern, lookup


def others(text: str) -> dict[str, tuple[str, ...]]:
    """Each country form ``text`` says, with the other names of its country."""
    pattern, lookup = _countries()
    found: dict[str, tuple[str, ...]] = {}
    for m in pattern.finditer(text):
        form = m.group()
        found.setdefault(form, tuple(o for o in lookup.get(_key(form), ()) if o.lower() != form.lower()))
    return found


def countries(text: str, in_names: bool = True) -> set[tuple[str, ...]]:
    """The countries ``text`` names, each as the tuple of all its forms ("Korean" and "ROK" are one);
    without ``in_names``, not those of a form that opens a name ("American Express", "Canadian Space Agency")."""
    pattern, lookup = _countries()
    return {lookup[_key(m.group())] for m in pattern.finditer(text)
            if _key(m.group()) in lookup and (in_names or not _OPENS_NAME.match(text, m.end()))}


def of_other_countries(question: str, text: str) -> bool:
    """``text`` is about other countries than ``question``: it lacks a country the question names and
    names one the question does not ("… Korea and Canada create …" against a Korea–UK release). A form
    that opens a name ("American Express", "Canadian Space Agency") names no country the question asks of."""
    asked, named = countries(question, in_names=False), countries(text)
    return bool(asked - named) and bool(named - asked)


def expand(query: str) -> str:
    """``query`` followed by the other names of every country it names (unchanged when it names none)."""
    present = query.lower()
    extra = []
    for form, names in others(query).items():
        for other in names if form not in _WRITTEN_CODES | _SHORT else ():  # the codes match names; they expand no search
            if other.lower() not in present and other not in extra and other not in _WRITTEN_CODES | _SHORT:
                extra.append(other)
    return f"{query} {' '.join(extra)}" if extra else query
