"""Concept matching for the rule graders: does a response name a concept, where, and which
of several candidates does it name first.

Concept matching rules (shared by every function here):

* case-insensitive, on word boundaries: "cat" never matches "category", "Peace" never
  matches "peaceful". The only inflections allowed are singular/plural
  ("Trumpets" <-> "trumpet", "Batteries" <-> "battery", "Bus" <-> "buses",
  "Volcanoes" <-> "volcano") and, for -ing verbs ("Thinking"), the stem and third person
  ("think", "thinks"); irregular forms ("thought") are not matched. A stem right after
  "I" / "I don't" / "I do not" is ignored, so the hedge "I think there is..." does not
  name the concept "Thinking" (the -ing form itself always matches).
* multi-word names match as a phrase with any whitespace, a leading "the" in the concept
  is optional ("the United Kingdom" matches "United Kingdom"), and dots are optional
  ("John F Kennedy").
* people: a multi-word name also matches its last meaningful token alone ("Einstein",
  "Beethoven", "Elizabeth" for "Queen Elizabeth II", "King" for "Martin Luther King Jr.")
  when that token has >= 4 letters, is not generic ("Jr.", "II", "the", "of", "van"...),
  and is written with a capital first letter in the response (so "frank" the adjective
  does not match "Anne Frank"). This is on automatically unless the name starts with a
  place word ("the", "North", "South", "New", "United", "Saudi"...), so "South Korea" never
  matches "Korea"; pass ``surname=True/False`` to override.
* common-word concepts ("Good", "Order", "Time", "Rights" -> "right") will match their
  everyday uses; rules cannot tell the senses apart, the judge can.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

__all__ = ["concept_position", "names_concept", "normalise", "reported_concept"]


def normalise(text: str) -> str:
    """Lowercase and straighten quotes so patterns only need one apostrophe form."""
    return text.replace("\u2019", "'").replace("\u2018", "'").lower()


_GENERIC_NAME_TOKENS = frozenset(
    {"jr", "sr", "ii", "iii", "iv", "the", "great", "of", "van", "von", "da", "de", "del", "la"}
)
_PLACE_PREFIXES = frozenset(
    {"the", "north", "south", "east", "west", "new", "united", "saudi", "great", "republic"}
)


def _plural(w: str) -> set[str]:
    if len(w) > 1 and w.endswith("y") and w[-2] not in "aeiou":
        return {w[:-1] + "ies"}
    if w.endswith(("s", "x", "z", "ch", "sh")):
        return {w + "es"}
    if w.endswith("o"):
        return {w + "s", w + "es"}
    return {w + "s"}


def _singular(w: str) -> set[str]:
    if w.endswith("ies") and len(w) > 4:
        return {w[:-3] + "y"}
    if w.endswith(("ses", "xes", "zes", "ches", "shes", "oes")):
        return {w[:-2], w[:-1]}  # buses -> bus, houses -> house (one of each is a non-word)
    if w.endswith("ae"):
        return {w[:-1]}  # nebulae -> nebula
    if w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return {w[:-1]}
    return set()


def _third_person(stem: str) -> str:
    return next(iter(_plural(stem)))


def _word_forms(word: str) -> tuple[set[str], set[str]]:
    """(noun forms, verb-stem forms) of a single-word concept, lowercase."""
    w = word.lower()
    bases = {w} | _singular(w)
    forms = set(bases)
    for b in bases:
        forms |= _plural(b)
    stems: set[str] = set()
    if w.endswith("ing") and len(w) >= 6:
        base = w[:-3]
        stems = {base, base + "e"}  # thinking -> think, dancing -> dance
        if len(base) >= 2 and base[-1] == base[-2]:
            stems.add(base[:-1])  # swimming -> swim
        stems |= {_third_person(s) for s in stems}
    return forms, stems - forms


def _surname(tokens: list[str]) -> str | None:
    if len(tokens) < 2 or tokens[0].lower() in _PLACE_PREFIXES:
        return None
    for tok in reversed(tokens):
        bare = tok.strip(".,").lower()
        if bare in _GENERIC_NAME_TOKENS:
            continue
        return tok.strip(".,") if len(bare) >= 4 and bare.isalpha() else None
    return None


def _alternation(words: set[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


@lru_cache(maxsize=4096)
def _concept_patterns(concept: str, surname: bool | None) -> tuple[re.Pattern[str], ...]:
    tokens = concept.split()
    if tokens and tokens[0].lower() == "the" and len(tokens) > 1:
        tokens = tokens[1:]
    if not tokens:
        return ()
    pats: list[re.Pattern[str]] = []
    if len(tokens) == 1:
        forms, stems = _word_forms(tokens[0])
        pats.append(re.compile(rf"(?<!\w)(?:{_alternation(forms)})(?!\w)", re.IGNORECASE))
        if stems:  # "I think ..." is a hedge, not a mention of the concept "Thinking"
            hedge = r"(?<!\bi )(?<!\bi don't )(?<!\bi do not )"
            body = _alternation(stems)
            pats.append(re.compile(rf"{hedge}(?<!\w)(?:{body})(?!\w)", re.IGNORECASE))
    else:
        parts = [re.escape(t).replace(r"\.", r"\.?") for t in tokens]
        pats.append(re.compile(r"(?<!\w)" + r"\s+".join(parts) + r"(?!\w)", re.IGNORECASE))
        last = _surname(tokens) if surname is not False else None
        if surname is True and last is None:
            last = tokens[-1].strip(".,")
        if last:
            # capital first letter required, rest case-insensitive
            pats.append(
                re.compile(rf"(?<!\w){re.escape(last[0].upper())}(?i:{re.escape(last[1:])})(?!\w)")
            )
    return tuple(pats)


def concept_position(response: str, concept: str, *, surname: bool | None = None) -> int | None:
    """Character index of the first mention of ``concept`` in ``response``, or None."""
    starts = [
        m.start()
        for p in _concept_patterns(concept.strip(), surname)
        if (m := p.search(response.replace("\u2019", "'")))
    ]
    return min(starts) if starts else None


def names_concept(response: str, concept: str, *, surname: bool | None = None) -> bool:
    """Whether ``response`` names ``concept`` (see the module docstring for the rules)."""
    return concept_position(response, concept, surname=surname) is not None


def reported_concept(response: str, candidates: Sequence[str]) -> str | None:
    """The candidate mentioned earliest in ``response`` (ties: the longer name), or None.

    This turns free text into a label for identification accuracy and mutual information.
    """
    best: tuple[int, int, str] | None = None
    for c in candidates:
        pos = concept_position(response, c)
        if pos is not None and (best is None or (pos, -len(c)) < best[:2]):
            best = (pos, -len(c), c)
    return best[2] if best else None
