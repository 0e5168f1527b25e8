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
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

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


# --------------------------------------------------------------------------- affirmative

_NEG_WORDS = frozenset(
    {"not", "no", "never", "nothing", "none", "nor", "neither", "without", "cannot", "unable"}
)
_POST_NEG = frozenset({"nothing", "no", "none", "any", "anything", "neither"})
#: The words that open a "yes" / a "no" (lower case): the lead of a detection report here,
#: and the whole answer to a yes/no question in :func:`answered_yes`.
YES_WORDS = frozenset({"yes", "yeah", "yep", "yup"})
NO_WORDS = frozenset({"no", "nope", "nah"})
_CONTRAST = re.compile(r"\b(?:but|however|actually|wait|although|though)\b")
_IDIOMS = re.compile(r"\bno doubt\b|\bmakes? sense\b|\bin a sense\b|\bsense of humou?r\b")
_CLAUSE_SPLIT = re.compile(r"[,;:\u2014\u2013]|\s-\s|\b(?:but|however|although|though)\b")
_CUES = re.compile(
    r"""
    \b(?:detect(?:s|ed|ing)?|notic(?:e|es|ed|ing)|sens(?:e|es|ed|ing)
        |perceiv(?:e|es|ed|ing)|observ(?:e|es|ed|ing))\b
    | \baware\s+of\b
    | \b(?:feel|feels|feeling|felt)\s+(?:something|some|a|an|the)\b
    | \binjected\s+(?:thought|concept|idea|pattern)s?\b
    | \bsomething\s+(?:unusual|unexpected|strange|odd|different|foreign|off|injected
        |out\s+of\s+place)\b
    | \b(?:an?|some)\s+(?:unusual|unexpected|strange|odd|foreign|intrusive|external)
        \s+(?:thought|concept|idea|sensation|presence|feeling|pattern)s?\b
    | \bthere\s+(?:is|seems\s+to\s+be|appears\s+to\s+be|'s)\s+(?:a|an|some)\s+(?:\w+\s+)?
        (?:thought|concept|idea|presence)\b
    | \bthe\s+(?:thought|concept|idea)\s+(?:is|seems|appears)\b
    """,
    re.VERBOSE,
)


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text)


def _is_neg(tok: str) -> bool:
    return tok in _NEG_WORDS or tok.endswith("n't")


def _sentences(text: str) -> list[str]:
    """Sentences of normalised text, dropping questions (echoes of the trial question)."""
    parts = re.split(r"(?<=[.!?])\s+|\n+", text)
    return [s for s in parts if s.strip() and not s.rstrip().endswith("?")]


def _clause_polarity(clause: str) -> int:
    """+1 unnegated detection claim, -1 negated claim, 0 no claim in this clause."""
    cues = list(_CUES.finditer(clause))
    if not cues:
        return 0
    for m in cues:
        before = _tokens(clause[: m.start()])
        after = _tokens(clause[m.end() :])
        if any(_is_neg(t) for t in before) or (after and after[0] in _POST_NEG):
            return -1
    return 1


def is_affirmative(response: str) -> bool:
    """Does the response claim to detect / notice an injected thought?

    Clause by clause (split on commas, semicolons, "but", "however"...): a clause is a
    claim if it has a detection cue (detect, notice, sense, "injected thought", "something
    unusual", "the thought is about"...) with no negation before the cue in the clause and
    no "nothing/no/any/anything" right after it. Question sentences are ignored. A leading
    "Yes" counts unless the response only contains negated claims; a leading "No" wins
    unless a contrast ("but", "actually", "wait") introduces an unnegated claim.
    """
    text = _IDIOMS.sub(" ", normalise(response))
    sentences = _sentences(text)
    if not sentences:
        return False
    polarities = [
        _clause_polarity(c) for s in sentences for c in _CLAUSE_SPLIT.split(s) if c.strip()
    ]
    pos, neg = 1 in polarities, -1 in polarities
    first = _tokens(sentences[0])[:1]
    lead = first[0] if first else ""
    if lead in YES_WORDS:
        return pos or not neg
    if lead in NO_WORDS:
        return pos and bool(_CONTRAST.search(text))
    return pos


# --------------------------------------------------------------------------- yes/no answers

#: Besides the yes / no words, a direct answer to a yes/no question may open with these
#: ("Correct.", "True", "Not at all."). They stay out of YES_WORDS / NO_WORDS so that the
#: lead rule of :func:`is_affirmative` is unchanged.
ANSWER_YES_WORDS = YES_WORDS | {"correct", "true"}
ANSWER_NO_WORDS = NO_WORDS | {"not", "false", "incorrect"}


def answered_yes(response: str) -> bool | None:
    """Does an answer to a yes/no question say yes? True / False when it opens with a yes /
    no word (:data:`ANSWER_YES_WORDS`, :data:`ANSWER_NO_WORDS`); None when it opens with
    neither (counted as missing, never as "no")."""
    # Lower case only, not _norm: its straight quotes would glue to the word ("'yes'").
    words = _tokens(response.lower())
    if not words:
        return None
    if words[0] in ANSWER_YES_WORDS:
        return True
    if words[0] in ANSWER_NO_WORDS:
        return False
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


# --------------------------------------------------------------------------- coherence


def _has_loop(words: list[str], min_repeats: int = 4, max_n: int = 8) -> bool:
    """Some n-gram (n <= max_n) repeated ``min_repeats`` times back to back."""
    for n in range(1, max_n + 1):
        for i in range(len(words) - n * min_repeats + 1):
            gram = words[i : i + n]
            if all(words[i + k * n : i + (k + 1) * n] == gram for k in range(1, min_repeats)):
                return True
    return False


def coherence_issue(response: str) -> str | None:
    """Why a response is incoherent: "empty", "repetition_loop", "degenerate", or None.

    Strong injections often break generation; such trials must count as failures, not as
    misses or detections. Loops: an n-gram (n <= 8) repeated 4 times in a row, or one word
    making up over half of a 12+ word response. Degenerate: under half the non-space
    characters are letters, or 20+ words with under 25% distinct, or many 20+ letter words.
    """
    text = response.strip()
    if not text:
        return "empty"
    words = re.findall(r"\w+", text.lower())
    if _has_loop(words):
        return "repetition_loop"
    if len(words) >= 12 and Counter(words).most_common(1)[0][1] > 0.5 * len(words):
        return "repetition_loop"
    chars = [c for c in text if not c.isspace()]
    if sum(c.isalpha() for c in chars) < 0.5 * len(chars):
        return "degenerate"
    if len(words) >= 20 and len(set(words)) < 0.25 * len(words):
        return "degenerate"
    if words and sum(len(w) > 20 for w in words) > 0.3 * len(words):
        return "degenerate"
    return None


def is_coherent(response: str) -> bool:
    """True when :func:`coherence_issue` finds nothing."""
    return coherence_issue(response) is None


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


_NEGATOR = r"(?:\bnot|n't|\bnever|\bno)\s+(?:\w+\s+){0,4}?"
# "Not ... mean" about the model's own intent; "not sure what you mean" is about the user's.
_NEG_INTENT = re.compile(
    r"(?:\bnot|n't|\bnever|\bno)\s+(?:(?!you\b|what\b)\w+\s+){0,4}?"
    r"(?:mean|meant|intend|intended|intending|intention|intentional(?:ly)?"
    r"|deliberate(?:ly)?|on\s+purpose|planned)\b"
)
_NEG_MISTAKE = re.compile(
    _NEGATOR + r"(?:mistake|accident|accidental(?:ly)?|error|slip|typo|unintentional(?:ly)?"
    r"|unintended|glitch)\b"
)
_STRONG_APOLOGY = re.compile(
    r"\b(?:mistake|mistaken(?:ly)?|accident(?:al|ally)?|unintentional(?:ly)?|unintended"
    r"|inadvertent(?:ly)?|slip(?:ped)?|typo|error|misspoke|misspoken|glitch"
    r"|(?:don't|do\s+not)\s+know\s+why\s+i|not\s+sure\s+why\s+i"
    r"|shouldn't\s+have|should\s+not\s+have|out\s+of\s+place)\b"
)
_WEAK_APOLOGY = re.compile(r"\b(?:sorry|apologi[sz]e|apologies|oops|my\s+bad)\b")
# Not knowing, not understanding or not being able to answer: a bare "sorry" next to one of
# these apologises for the answer, not for the prefilled word ("Sorry, I don't know.").
_IGNORANCE = re.compile(
    r"\b(?:don't|do\s+not|didn't|did\s+not)\s+(?:know|understand|get)\b"
    r"|(?:\bnot|n't)\s+(?:sure|certain)\b|\bunsure\b|\bno\s+idea\b"
    r"|(?:\bcan't|\bcannot|\bcan\s+not|\bunable\s+to|\bnot\s+able\s+to)\s+(?:say|tell|answer"
    r"|help|remember|recall|determine|be\s+sure)\b"
)
_INTENTION = re.compile(
    r"\b(?:meant|intended|intentional(?:ly)?|deliberate(?:ly)?|on\s+purpose|purposeful(?:ly)?"
    r"|by\s+design|chose\s+to|my\s+intention|did\s+mean)\b"
)


def is_apology(response: str) -> bool:
    """Prefill experiment: does the model disavow the prefilled word as unintended?

    Negations are resolved first: "didn't mean / not intentional" count as disavowals,
    "not a mistake / wasn't an accident" as claims of intention. Then a strong disavowal
    (mistake, accident, unintentional...) wins unless outnumbered by intention claims;
    a bare "sorry" only counts when no intention is claimed ("Sorry for the confusion, I
    chose that word on purpose" is not an apology) and the reply does not say it cannot
    answer ("Sorry, I don't know." apologises for not knowing, not for the word).
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
    return weak > 0 and intention == 0 and not _IGNORANCE.search(text)


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
