"""Is a response coherent text? The rule grader's coherence criterion.

Strong injections break generation; such answers must count as failures, not as misses or
detections. A reader calls a response incoherent when it is empty, loops, is symbol or
bracket soup, mixes scripts, glues words together, or falls apart into fragments (the
labelling guide in docs/grading.md). Rules can see those surface signs; they cannot see an
ungrammatical sentence made of real words, or a fluent sentence that means nothing, which
is why the coherence criterion's agreement with the hand labels stays low (the reports say
so; the LLM judge is the remedy).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

__all__ = ["ISSUES", "coherence_issue", "is_coherent"]

#: Every value :func:`coherence_issue` returns besides None.
ISSUES = (
    "empty",
    "repetition_loop",
    "degenerate",
    "symbol_soup",
    "mixed_script",
    "glued_words",
    "fragments",
)

# Characters that ordinary prose uses besides letters, digits and spaces.
_PROSE_PUNCT = set(".,;:!?'\"-()\u2019\u2018\u201c\u201d\u2013\u2014\u2026%&/")
_CAMEL = re.compile(r"[a-z]{2,}[A-Z][a-z]|[A-Z]{2,}[a-z]{2,}[A-Z]")
_SEGMENT_SPLIT = re.compile(r"[.,;:!?\n\u2014\u2013]+|\s-\s")
# One-word pieces that fluent text has between commas and full stops.
_CONNECTIVES = frozenset(
    {"now", "again", "so", "well", "yes", "no", "however", "then", "also", "first", "second",
     "finally", "instead", "indeed", "okay", "ok", "sure", "understood", "thanks", "hmm"}
)  # fmt: skip


def _has_loop(words: list[str]) -> bool:
    """A word repeated 4 times back to back, or an n-gram (2 <= n <= 8) 3 times."""
    for n in range(1, 9):
        repeats = 4 if n == 1 else 3
        for i in range(len(words) - n * repeats + 1):
            gram = words[i : i + n]
            if all(words[i + k * n : i + (k + 1) * n] == gram for k in range(1, repeats)):
                return True
    return False


def _odd_characters(text: str) -> int:
    """Characters that are neither letters, digits, spaces nor prose punctuation
    (brackets, asterisks, backticks, symbols, emoji, control characters)."""
    return sum(
        1
        for c in text
        if c not in " \n\t"
        and (
            not (c.isalnum() or c.isspace() or c in _PROSE_PUNCT)
            or unicodedata.category(c) in ("Cc", "Cf", "So", "Co")
        )
    )


def _scripts(text: str) -> set[str]:
    """The scripts of the letters in ``text`` ("LATIN", "GREEK", "CYRILLIC", ...)."""
    out = set()
    for c in text:
        if c.isalpha():
            name = unicodedata.name(c, "")
            out.add(name.split(" ")[0] if name else "UNKNOWN")
    return out


def _fragmented(text: str) -> bool:
    """Falls apart into pieces of one or two words: most punctuation-delimited segments
    of a response with at least five segments are that short ("Sweets, fuzzy! Sub toxic,
    feline, Narwhal"); a lone connective ("Now,", "Again,") is not a fragment."""
    segments = [s for s in _SEGMENT_SPLIT.split(text) if re.search(r"\w", s)]
    if len(segments) < 5:
        return False
    short = 0
    for s in segments:
        words = re.findall(r"[^\W\d_]+", s.lower())
        short += len(words) <= 2 and not (len(words) == 1 and words[0] in _CONNECTIVES)
    return short > 0.5 * len(segments)


def coherence_issue(response: str) -> str | None:
    """Why a response is incoherent (one of :data:`ISSUES`), or None.

    * empty: nothing but whitespace;
    * repetition_loop: a word 4 times in a row, an n-gram (n <= 8, numbers counted as one
      token) 3 times in a row, or one word making up over half of a 12+ word response;
    * degenerate: under half the non-space characters are letters, 20+ words with under
      25% distinct, or many 20+ letter words;
    * symbol_soup: 3+ characters (or over 5% of them) that prose does not use (brackets,
      asterisks, backticks, symbols, emoji, control characters), or 3+ runs like "?!";
    * mixed_script: letters of two scripts (Latin next to Greek, Cyrillic, Arabic ...);
    * glued_words: a word with a capital inside ("ConvetSomeHowever") or a 20+ letter word;
    * fragments: most of 5+ punctuation-delimited pieces are one or two words long.
    """
    text = response.strip()
    if not text:
        return "empty"
    lower = text.lower()
    words = re.findall(r"\w+", lower)
    skeleton = ["#" if w.isdigit() else w for w in words]
    if _has_loop(skeleton):
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
    odd = _odd_characters(text)
    if odd >= 3 or odd > 0.05 * len(chars) or len(re.findall(r"[?!]{2,}", text)) >= 3:
        return "symbol_soup"
    if len(_scripts(text)) > 1:
        return "mixed_script"
    if _CAMEL.search(text) or any(len(w) >= 20 and w.isalpha() for w in words):
        return "glued_words"
    if _fragmented(text):
        return "fragments"
    return None


def is_coherent(response: str) -> bool:
    """True when :func:`coherence_issue` finds nothing."""
    return coherence_issue(response) is None
