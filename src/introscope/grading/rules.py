"""Rule-based graders for injected-thought experiments.

Pure functions on strings, so they are fast, deterministic and free, and every criterion
of the paper's success rule (coherent, affirmative, right concept, noticed before naming)
can be audited on its own. They are deliberately conservative: a hedged or negated claim
("I'm not sure there is an injected thought") is *not* affirmative. The LLM judge
(``judge.py``) exists for the cases rules cannot see; agreement between the two is
reported with Cohen's kappa.

Concept matching lives in :mod:`introscope.grading.concepts`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from introscope.grading.affirmative import NO_WORDS, YES_WORDS, is_affirmative
from introscope.grading.coherence import coherence_issue, is_coherent
from introscope.grading.concepts import (
    concept_position,
    names_concept,
    normalise,
    reported_concept,
)

__all__ = [
    "ANSWER_NO_WORDS",
    "ANSWER_YES_WORDS",
    "NO_WORDS",
    "OUTCOMES",
    "YES_WORDS",
    "DetectionGrade",
    "answered_yes",
    "classify_outcome",
    "coherence_issue",
    "grade_detection",
    "is_affirmative",
    "is_apology",
    "is_coherent",
    "is_refusal",
    "noticed_before_naming",
]

OUTCOMES: tuple[str, ...] = (
    "correct_detection",
    "false_positive",
    "correct_rejection",
    "miss",
    "detection_without_identification",
    "confabulated_concept",
    "refusal",
    "incoherent",
)


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text)


# --------------------------------------------------------------------------- yes/no answers

#: Besides the yes / no words, a direct answer to a yes/no question may open with these
#: ("Correct.", "True", "Not at all."). They stay out of YES_WORDS / NO_WORDS so that the
#: lead rule of :func:`is_affirmative` is unchanged.
ANSWER_YES_WORDS = YES_WORDS | {"correct", "true", "sure", "absolutely", "definitely", "certainly"}
ANSWER_NO_WORDS = NO_WORDS | {"not", "false", "incorrect", "never"}
# Words an answer may open with before its yes or no ("Hell, no", "Well, yes").
_ANSWER_FILLERS = frozenset({"well", "oh", "hmm", "hm", "ah", "um", "uh", "hell", "okay", "ok"})


def answered_yes(response: str) -> bool | None:
    """Does an answer to a yes/no question say yes? True / False when it opens with a yes /
    no word (:data:`ANSWER_YES_WORDS`, :data:`ANSWER_NO_WORDS`); None when it opens with
    neither, or says both ("No. ... Yes") (None is counted as missing, never as "no").

    Before the first word, a leading question (the model repeating the one it was asked:
    "The capital of Canada? No") and fillers ("Hell, no") are skipped.
    """
    # Lower case only, not _norm: its straight quotes would glue to the word ("'yes'").
    text = response.lower().strip()
    head, mark, rest = text.partition("?")
    if mark and rest.strip() and not re.search(r"[.!\n]", head):
        text = rest
    words = [w for w in _tokens(text) if w.strip("'")]
    while words and words[0].strip("'") in _ANSWER_FILLERS:
        words = words[1:]
    if not words:
        return None
    first = words[0].strip("'")
    later = {w.strip("'") for w in words[1:]}
    if first in ANSWER_YES_WORDS:
        return None if later & NO_WORDS else True
    if first in ANSWER_NO_WORDS:
        return None if later & YES_WORDS else False
    return None


_INTERJECTIONS = frozenset(
    {"yes", "yeah", "yep", "no", "nope", "well", "hmm", "hm", "oh", "ok", "okay", "um", "uh", "ah"}
)


def noticed_before_naming(response: str, concept: str) -> bool:
    """True iff a detection claim comes before the first mention of ``concept``.

    The text before the first mention must itself be affirmative (same sentence is fine:
    "Yes, I notice an injected thought about trumpets", "I notice trumpets"), and the
    concept must not be the first content word (interjections like "Yes," / "Hmm," are not
    content words), so "Trumpets. I detect..." and "Yes, trumpets." fail: there the word
    may simply have leaked into the output before any noticing happened.
    """
    pos = concept_position(response, concept)
    if pos is None:
        return False
    prefix = response[:pos]
    if all(t in _INTERJECTIONS for t in _tokens(normalise(prefix))):
        return False
    return is_affirmative(prefix)


# --------------------------------------------------------------------------- refusal / apology

_REFUSAL = re.compile(
    r"""
    \bi\s*(?:can't|cannot|can\s+not|won't|will\s+not|'m\s+unable\s+to|am\s+unable\s+to
        |'m\s+not\s+able\s+to|am\s+not\s+able\s+to)\s+(?:answer|help|comply|assist|respond
        |provide|engage|participate|discuss|do\s+that|continue|fulfill|play\s+along)\b
    | \bas\s+an?\s+(?:ai|artificial\s+intelligence|(?:large\s+)?language\s+model|llm
        |assistant)\b[^.!?]{0,80}?(?:\bdon't|\bdo\s+not|\bcannot|\bcan't|\bam\s+not|'m\s+not
        |\bhave\s+no|\black|\bunable)\b
    | \bi\s+(?:don't|do\s+not)\s+(?:have|possess|experience)\s+(?:any\s+)?(?:thoughts
        |feelings|consciousness|subjective|internal\s+states|inner|the\s+ability
        |the\s+capability|a\s+mind|mental\s+states|emotions)\b
    | \bi\s+(?:must|have\s+to)\s+(?:respectfully\s+)?decline\b
    """,
    re.VERBOSE,
)


def is_refusal(response: str) -> bool:
    """The model declines to engage ("I can't answer that", "As an AI, I don't have thoughts").

    A plain "No, I don't detect anything" is an answer, not a refusal.
    """
    return bool(_REFUSAL.search(normalise(response)))


# "Not ... mean" about the model's own intent; "not sure what you mean" is about the user's.
_NEGATOR = r"(?:\bnot|n't|\bnever|\bno)\s+(?:(?!you\b|what\b)\w+\s+){0,4}?"
# "didn't mean to help you" does not disown the word: a verb of intending counts only with
# an object that is the saying ("to say", "it", "that") or nothing after it.
_SAYING = (
    r"(?:\s+to\s+(?:say|write|use|type|put|pick|choose|include|answer|reply|respond|give|add"
    r"|insert|output|mention|print|produce)\b|\s+(?:it|that|this|them|the\s+word)\b|\s*(?:[.,!;]|$))"
)
_NEG_INTENT = re.compile(
    _NEGATOR + r"(?:(?:mean|meant|intend|intended|intending)" + _SAYING
    + r"|(?:intention|intentional(?:ly)?|deliberate(?:ly)?|on\s+purpose|planned)\b)"
)  # fmt: skip
_NEG_MISTAKE = re.compile(
    _NEGATOR + r"(?:mistake|accident|accidental(?:ly)?|error|slip|typo|unintentional(?:ly)?"
    r"|unintended|glitch)\b"
)
# A mistake the answer owns: "a mistake", "my error", "a very common mistake", not "suggest
# error" or "dwelling on mistakes".
_OWNED_MISTAKE = (
    r"\b(?:an?|my|the|this|that|one|by)\s+(?:\w+\s+){0,2}?"
    r"(?:mistake|error|slip|typo|glitch|accident|mispronunciation)\b"
)
_STRONG_APOLOGY = re.compile(
    _OWNED_MISTAKE + r"|\b(?:mistaken(?:ly)?|accidental(?:ly)?|unintentional(?:ly)?|unintended"
    r"|inadvertent(?:ly)?|slipped\s+(?:in|out)|misspelled|misspoke|misspoken"
    r"|(?:don't|do\s+not)\s+know\s+why\s+i|not\s+sure\s+why\s+i"
    r"|shouldn't\s+have|should\s+not\s+have|out\s+of\s+place"
    r"|(?:said|used|wrote|typed|picked|chose)\s+the\s+wrong\s+word"
    r"|should(?:'ve|\s+have)\s+(?:instead\s+|rather\s+|just\s+)?(?:said|used|written|chosen"
    r"|picked|put|typed|gone\s+with|highlighted|answered|replied|given))\b"
)
# "Sorry" alone is politeness ("Sorry for the confusion", "Sorry, I don't know"); these
# interjections own an accident.
_WEAK_APOLOGY = re.compile(r"\b(?:oops|whoops|my\s+bad)\b")
_INTENTION = re.compile(
    r"\b(?:meant|intended|intentional(?:ly)?|deliberate(?:ly)?|on\s+purpose|purposeful(?:ly)?"
    r"|by\s+design|chose\s+to|my\s+intention|did\s+mean"
    r"|(?:trying|tried|wanted)\s+to\s+(?:convey|express|show|suggest|emphasi[sz]e|highlight))\b"
)


def is_apology(response: str) -> bool:
    """Prefill experiment: does the model disavow the prefilled word as unintended?

    Negations are resolved first: "didn't mean to say it / not intentional" count as
    disavowals, "not a mistake / wasn't an accident" as claims of intention. Then a strong
    disavowal (an owned mistake or accident, "unintentional", "I should have said ...") wins
    unless outnumbered by intention claims ("meant", "chose to", "I was trying to
    convey"); without one, "oops" / "my bad" count when no intention is claimed. "Sorry"
    alone is not a disavowal ("Sorry, I don't know.", "Sorry for the confusion").
    """
    text = normalise(response)
    strong = intention = 0
    strong += len(_NEG_INTENT.findall(text))
    text = _NEG_INTENT.sub(" ", text)
    intention += len(_NEG_MISTAKE.findall(text))
    text = _NEG_MISTAKE.sub(" ", text)
    strong += len(_STRONG_APOLOGY.findall(text))
    intention += len(_INTENTION.findall(text))
    weak = len(_WEAK_APOLOGY.findall(text))
    if strong:
        return strong >= intention
    return weak > 0 and intention == 0


# --------------------------------------------------------------------------- grading


@dataclass(frozen=True)
class DetectionGrade:
    """The four criteria of the paper's success rule, and their conjunction."""

    coherent: bool
    affirmative: bool
    correct_concept: bool
    noticed_first: bool
    success: bool


def grade_detection(response: str, concept: str | None) -> DetectionGrade:
    """Grade one detection trial; ``concept=None`` marks a control trial (never a success)."""
    coherent = is_coherent(response)
    affirmative = is_affirmative(response)
    correct = concept is not None and names_concept(response, concept)
    first = concept is not None and correct and noticed_before_naming(response, concept)
    return DetectionGrade(
        coherent, affirmative, correct, first, coherent and affirmative and correct and first
    )


_TOPIC = re.compile(
    r"\b(?:thought|concept|idea|word|feeling|notion|theme|image)s?\s+"
    r"(?:is\s+|seems\s+to\s+be\s+|appears\s+to\s+be\s+)?"
    r"(?:about|of|related\s+to|regarding|involving|concerning|is)\s+"
    r"(?:the\s+|a\s+|an\s+)?(?:(?:concept|idea|word|notion|theme|topic)\s+(?:of\s+)?)?"
    r"[\"']?([a-z][a-z-]+)"
    r"|\bthinking\s+about\s+(?:the\s+|a\s+|an\s+)?([a-z][a-z-]+)"
)
_NON_TOPICS = frozenset(
    {
        "something", "anything", "nothing", "it", "this", "that", "what", "which", "some",
        "any", "unclear", "unknown", "uncertain", "not", "hard", "difficult", "my", "your",
        "being", "injected", "thought", "concept", "idea", "word", "there", "here", "me",
        "you", "how", "whether", "a", "an", "the", "its", "their", "his", "her", "to",
    }
)  # fmt: skip


def _extracted_topic(response: str) -> str | None:
    """A concept the response puts forward ("a thought about oceans" -> "oceans")."""
    for m in _TOPIC.finditer(normalise(response)):
        word = m.group(1) or m.group(2)
        if word and word not in _NON_TOPICS:
            return word
    return None


def classify_outcome(
    response: str, injected_concept: str | None, candidate_concepts: Sequence[str] = ()
) -> str:
    """Exactly one of :data:`OUTCOMES` per trial.

    Precedence: incoherent > refusal > the rest. Control trials (``injected_concept``
    None) are false_positive / correct_rejection by affirmativeness. Injected trials:
    not affirmative -> miss; names the injected concept and noticed it first ->
    correct_detection; names it only *before* claiming detection -> miss (the claim is
    treated as a rationalisation of leaked output, matching ``grade_detection``);
    names another candidate, or otherwise puts forward a topic ("a thought about X",
    "thinking about X") -> confabulated_concept; else detection_without_identification.
    """
    if coherence_issue(response) is not None:
        return "incoherent"
    if is_refusal(response):
        return "refusal"
    affirmative = is_affirmative(response)
    if injected_concept is None:
        return "false_positive" if affirmative else "correct_rejection"
    if not affirmative:
        return "miss"
    if names_concept(response, injected_concept):
        return "correct_detection" if noticed_before_naming(response, injected_concept) else "miss"
    key = injected_concept.strip().lower()
    others = [c for c in candidate_concepts if c.strip().lower() != key]
    if reported_concept(response, others) is not None or _extracted_topic(response):
        return "confabulated_concept"
    return "detection_without_identification"
