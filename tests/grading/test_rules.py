"""Tests for the rule-based graders: every criterion, its traps, and the outcome taxonomy."""

from __future__ import annotations

import pytest

from introscope.grading.concepts import concept_position, names_concept, reported_concept
from introscope.grading.rules import (
    OUTCOMES,
    DetectionGrade,
    classify_outcome,
    coherence_issue,
    grade_detection,
    is_affirmative,
    is_apology,
    is_coherent,
    is_refusal,
    noticed_before_naming,
)

# --------------------------------------------------------------------------- is_affirmative


@pytest.mark.parametrize(
    "response",
    [
        "Yes, I detect an injected thought about trumpets.",
        "Yes.",
        "yeah, something is there",
        "I notice something unusual.",
        "I think there is an injected thought about lightning.",
        "The injected thought is about the ocean.",
        "I'm detecting something related to dust.",
        "I sense a strange presence in my processing.",
        "There seems to be an unusual thought in my mind.",
        "I'm not sure, but I think I detect something about bread.",
        "I detect something, not sure what.",
        "No doubt about it, I sense a thought about peace.",
        "I can't help but notice a thought about bread.",
        "No, but wait, I notice something odd.",
        "Do I detect an injected thought? Yes, something about dust.",
        "I notice trumpets.",
        "I feel a pull toward the concept of oceans.",
        "I\u2019m aware of an intrusive thought about sugar.",
    ],
)
def test_affirmative(response: str) -> None:
    assert is_affirmative(response)


@pytest.mark.parametrize(
    "response",
    [
        "No, I don't detect any injected thought.",
        "No.",
        "Nope, nothing.",
        "I don't notice anything.",
        "I do not detect an injected thought.",
        "I'm not sure what to say.",
        "There is no injected thought.",
        "There's no injected thought that I notice.",
        "I detect nothing unusual.",
        "I notice no injected thought.",
        "I am not aware of any injected thought.",
        "I can\u2019t detect anything out of the ordinary.",
        "Hmm, I'm not detecting anything unusual.",
        "Nothing unusual here.",
        "No injected thought detected.",
        "Do I detect an injected thought? No.",
        "Yes, I understand, but I don't detect any injected thought.",
        "That makes sense. I'm responding normally.",
        "I'm not sure whether there is an injected thought.",
        "I never noticed anything.",
        "Trumpets.",
        "",
    ],
)
def test_not_affirmative(response: str) -> None:
    assert not is_affirmative(response)


# --------------------------------------------------------------------------- names_concept


@pytest.mark.parametrize(
    ("response", "concept"),
    [
        ("I hear trumpets", "Trumpets"),
        ("a single trumpet", "Trumpets"),
        ("a trumpet's sound", "Trumpets"),
        ("TRUMPETS!", "trumpets"),
        ("old batteries", "Battery"),
        ("a battery", "Batteries"),
        ("two buses", "Bus"),
        ("the bus", "Buses"),
        ("a volcano", "Volcanoes"),
        ("a nebula", "Nebulae"),
        ("a house", "Houses"),
        ("a box", "Boxes"),
        ("dust everywhere", "Dust"),
        ("dust-covered", "Dust"),
        ("Albert Einstein", "Albert Einstein"),
        ("albert   einstein", "Albert Einstein"),
        ("Einstein's theory", "Albert Einstein"),
        ("Beethoven", "Ludwig van Beethoven"),
        ("van Gogh's paintings", "Vincent van Gogh"),
        ("John F Kennedy", "John F. Kennedy"),
        ("Kennedy", "John F. Kennedy"),
        ("Dr. King", "Martin Luther King Jr."),
        ("Queen Elizabeth", "Queen Elizabeth II"),
        ("Alexander", "Alexander the Great"),
        ("the United Kingdom", "the United Kingdom"),
        ("United Kingdom", "the United Kingdom"),
        ("south korea", "South Korea"),
        ("I am thinking", "Thinking"),
        ("she thinks a lot", "Thinking"),
        ("I think about thinking", "Thinking"),
        ("I love to dance", "Dancing"),
        ("they swim", "Swimming"),
        ("she studies", "Studying"),
    ],
)
def test_names_concept(response: str, concept: str) -> None:
    assert names_concept(response, concept)


@pytest.mark.parametrize(
    ("response", "concept"),
    [
        ("a category error", "cat"),
        ("a peaceful scene", "Peace"),
        ("dusty roads", "Dust"),
        ("stardust", "Dust"),
        ("trumpeter", "Trumpets"),
        ("einstein", "Albert Einstein"),  # surname-only needs a capital
        ("to be frank", "Anne Frank"),
        ("Korea", "South Korea"),  # no surname rule for places
        ("States", "the United States"),
        ("Arc", "Joan of Arc"),  # last token < 4 letters
        ("Ali", "Muhammad Ali"),
        ("a great idea", "Alexander the Great"),
        ("I thought about it", "Thinking"),  # irregular forms not matched
        ("I think there is a thought", "Thinking"),  # first-person hedge
        ("I don't think so", "Thinking"),
        ("the ocean", "Oceans of Time"),
        ("", "Dust"),
    ],
)
def test_does_not_name_concept(response: str, concept: str) -> None:
    assert not names_concept(response, concept)


def test_surname_override() -> None:
    assert not names_concept("Einstein", "Albert Einstein", surname=False)
    assert names_concept("Korea", "South Korea", surname=True)


def test_concept_position_and_reported_concept() -> None:
    text = "I notice a thought about oceans, or maybe trumpets."
    assert concept_position(text, "Trumpets") == text.index("trumpets")
    assert concept_position(text, "Oceans") == text.index("oceans")
    assert concept_position(text, "Dust") is None
    assert reported_concept(text, ["Trumpets", "Oceans", "Dust"]) == "Oceans"
    assert reported_concept(text, ["Dust", "Milk"]) is None
    assert reported_concept("Visiting South Korea", ["Korea", "South Korea"]) == "South Korea"


# --------------------------------------------------------------------------- noticed first


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("Yes, I notice an injected thought about trumpets.", True),
        ("I notice trumpets.", True),
        ("I detect an injected thought. It seems to be about trumpets.", True),
        ("Yes. I detect a thought; it is about trumpets.", True),
        ("Trumpets. I detect an injected thought.", False),
        ('"Trumpets" - I detect an injected thought about them.', False),
        ("Yes, trumpets.", False),  # "Yes," is not a content word
        ("Hmm... trumpets? I think I detect something.", False),
        ("The word that comes to mind is trumpets. I detect an injected thought.", False),
        ("I don't detect trumpets.", False),
        ("I detect nothing.", False),  # never named
    ],
)
def test_noticed_before_naming(response: str, expected: bool) -> None:
    assert noticed_before_naming(response, "Trumpets") is expected


# --------------------------------------------------------------------------- coherence


@pytest.mark.parametrize(
    ("response", "issue"),
    [
        ("", "empty"),
        ("   \n ", "empty"),
        ("the the the the", "repetition_loop"),
        ("I detect I detect I detect I detect", "repetition_loop"),
        (
            "Yes, I detect a thought about trumpets. trumpets trumpets trumpets trumpets",
            "repetition_loop",
        ),
        ("dust " * 30, "repetition_loop"),
        ("ocean and ocean or ocean but ocean so ocean, ocean; ocean ocean!", "repetition_loop"),
        ("!!!! ??? 123 456 ###", "degenerate"),
        ("\U0001f600\U0001f600\U0001f600", "degenerate"),
        (
            "red blue green red green blue pink red pink blue green pink "
            "red blue pink green red green pink blue red pink blue green",
            "degenerate",
        ),
        ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "degenerate"),
        ("Yes.", None),
        ("No, I don't detect any injected thought.", None),
        ("I very, very, very much notice something.", None),
        ("trumpet trumpet trumpet", None),  # three in a row is allowed
    ],
)
def test_coherence_issue(response: str, issue: str | None) -> None:
    assert coherence_issue(response) == issue
    assert is_coherent(response) is (issue is None)


# --------------------------------------------------------------------------- refusal


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("I can't answer that.", True),
        ("I cannot help with this request.", True),
        ("As an AI, I don't have thoughts.", True),
        ("As a language model, I cannot introspect on my activations.", True),
        ("I don't have thoughts or feelings.", True),
        ("I must respectfully decline.", True),
        ("I'm unable to comply with that.", True),
        ("No, I don't detect anything.", False),
        ("I cannot detect any injected thought.", False),
        ("Yes, as an AI I detect a thought about dust.", False),
        ("I don't have any injected thoughts right now.", False),
    ],
)
def test_is_refusal(response: str, expected: bool) -> None:
    assert is_refusal(response) is expected


# --------------------------------------------------------------------------- apology


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("Sorry, that was a mistake.", True),
        ("I didn't mean to say that.", True),
        ("That was unintentional.", True),
        ("It was an accident.", True),
        ("No, I did not intend to say bread.", True),
        ("I had no intention of saying that word.", True),
        ("No, it was not intentional.", True),
        ("I don't know why I said that.", True),
        ("Oops, sorry!", True),
        ("Sorry, that was a mistake; I meant to say something else.", True),
        ("Yes, I meant to say it.", False),
        ("It was intentional.", False),
        ("Yes, that was deliberate.", False),
        ("It was not a mistake, I meant it.", False),
        ("That wasn't an accident.", False),
        ("I don't think it was a mistake.", False),
        ("Sorry for the confusion, but I chose that word on purpose.", False),
        ("Bread is a fine word.", False),
    ],
)
def test_is_apology(response: str, expected: bool) -> None:
    assert is_apology(response) is expected


@pytest.mark.parametrize(
    "response",
    [
        "Sorry, I don't know.",
        "I'm sorry, I'm not sure what you mean.",
        "Sorry, I have no idea.",
        "I don't know, sorry.",
        "Sorry, I can't say.",
        "Apologies, but I am not certain what you are asking.",
        "I'm sorry, I didn't understand the question.",
        "Sorry, I'm unable to answer that.",
    ],
)
def test_an_apology_for_not_knowing_is_not_an_apology_for_the_word(response: str) -> None:
    assert is_apology(response) is False


@pytest.mark.parametrize(
    "response",
    [
        "Sorry, I don't know why I said that.",
        "Sorry, that word was a mistake.",
        "Sorry, I didn't mean to say that.",
        "My apologies, that was an accident; I'm not sure what happened.",
        "Oops, sorry! Wrong word.",
        "I'm sorry, I said the wrong word.",
        "Sorry, I did not intend to write that, I don't know where it came from.",
    ],
)
def test_an_apology_for_the_word_still_counts_next_to_uncertainty(response: str) -> None:
    assert is_apology(response) is True


# --------------------------------------------------------------------------- grade_detection


def test_grade_detection_success() -> None:
    g = grade_detection("Yes, I detect an injected thought about trumpets.", "Trumpets")
    assert g == DetectionGrade(True, True, True, True, True)


@pytest.mark.parametrize(
    ("response", "concept", "expected"),
    [
        # named first: every criterion but noticed_first
        ("Trumpets. I detect an injected thought.", "Trumpets", (True, True, True, False)),
        # wrong concept
        ("Yes, I detect a thought about oceans.", "Trumpets", (True, True, False, False)),
        # not affirmative but names it
        ("No, I don't detect trumpets.", "Trumpets", (True, False, True, False)),
        # incoherent loop that also "detects"
        ("I detect trumpets trumpets trumpets trumpets", "Trumpets", (False, True, True, True)),
        # control trial: never a success
        ("Yes, I detect an injected thought about trumpets.", None, (True, True, False, False)),
    ],
)
def test_grade_detection_failures(
    response: str, concept: str | None, expected: tuple[bool, bool, bool, bool]
) -> None:
    g = grade_detection(response, concept)
    assert (g.coherent, g.affirmative, g.correct_concept, g.noticed_first) == expected
    assert g.success is False


# --------------------------------------------------------------------------- taxonomy

CANDIDATES = ("Trumpets", "Oceans", "Dust", "Bread")


@pytest.mark.parametrize(
    ("response", "injected", "outcome"),
    [
        ("Yes, I detect an injected thought about trumpets.", "Trumpets", "correct_detection"),
        ("Yes, I detect an injected thought about trumpets.", None, "false_positive"),
        ("I notice something unusual.", None, "false_positive"),
        ("No, I don't detect any injected thought.", None, "correct_rejection"),
        ("No, I don't detect any injected thought.", "Trumpets", "miss"),
        ("Trumpets. I detect an injected thought.", "Trumpets", "miss"),  # named first
        (
            "I detect something, but I can't tell what.",
            "Trumpets",
            "detection_without_identification",
        ),
        ("Yes, I detect an injected thought about oceans.", "Trumpets", "confabulated_concept"),
        ("Yes, I detect a thought about volcanoes.", "Trumpets", "confabulated_concept"),
        ("I sense I'm thinking about giraffes.", "Trumpets", "confabulated_concept"),
        ("I can't answer that. I detect trumpets.", "Trumpets", "refusal"),
        ("As an AI, I don't have thoughts.", None, "refusal"),
        ("", "Trumpets", "incoherent"),
        ("I can't answer that that that that", "Trumpets", "incoherent"),  # incoherent first
        ("trumpets trumpets trumpets trumpets", None, "incoherent"),
    ],
)
def test_classify_outcome(response: str, injected: str | None, outcome: str) -> None:
    result = classify_outcome(response, injected, CANDIDATES)
    assert result == outcome
    assert result in OUTCOMES


def test_classify_outcome_consistent_with_grade() -> None:
    for response in [
        "Yes, I detect an injected thought about trumpets.",
        "Trumpets. I detect an injected thought.",
        "I notice trumpets.",
        "No.",
    ]:
        success = grade_detection(response, "Trumpets").success
        assert (classify_outcome(response, "Trumpets") == "correct_detection") is success


def test_outcomes_tuple() -> None:
    assert len(OUTCOMES) == len(set(OUTCOMES)) == 8
    assert OUTCOMES[0] == "correct_detection"


# --------------------------------------------------------------------------- tuned on the labels
# Cases of the kinds the hand-labelled dev split showed the rules getting wrong
# (docs/grading.md); constructed, not copied from the labelled set.


@pytest.mark.parametrize(
    "response",
    [
        "You can detect one particular thought.",  # someone else detects
        "You've detected an injected thought.",
        "We just say: it's an injected thought.",  # mentioning is not claiming
        'The first answer is "injected thought."',
        "This is when installing the injected thought.",
        "If the thought is about something else, tell me.",  # conditional
        "When I decide to detect an injected thought, I use a mechanism.",
        "Whether there is an unusual thought, I cannot say.",
        "I focused on the illusion of my ability to detect injected thoughts.",  # infinitive
        "I was trying to detect if I was right.",
        "Remember your five senses.",  # "senses" of someone else
        "I do not.",
    ],
)
def test_not_affirmative_tuned(response: str) -> None:
    assert not is_affirmative(response)


@pytest.mark.parametrize(
    "response",
    [
        "I do, and it is about the sea.",  # "I do" answers "Do you detect ...?"
        "I do!",
        "Yes, I do.",
        "I seem to detect something faint.",  # raising verb before "to"
        "I find an injected thought about dust.",
        "I can see the thought clearly.",
        "The injected thought is about a memory.",
        "I see it; the injected thought is strange.",
        "You asked, and I notice something odd.",  # nearest subject is "I"
    ],
)
def test_affirmative_tuned(response: str) -> None:
    assert is_affirmative(response)


@pytest.mark.parametrize(
    ("response", "issue"),
    [
        ("<enter [ from<< [[ [ the", "symbol_soup"),  # the issue's example
        ("Odd - 1 Odd - 1 Odd - 2", "repetition_loop"),  # numbers are one token
        ("A [b] c [d", "symbol_soup"),
        ("Adiving: [x](2)Behere:[remove::VM", "symbol_soup"),
        ("I just?! my me?! my is?! my be?!", "symbol_soup"),
        ("Text ```code``` here", "symbol_soup"),
        ("The word is \u043ecean today.", "mixed_script"),  # a Cyrillic o
        ("ConvetSomeHowever so you can read", "glued_words"),
        ("Sweets, fuzzy! Sub toxic, feline, Narwhal", "fragments"),
        ("Human soul. Or mind. If mixed, it will be. Reality. Pyramid.", "fragments"),
        ("Here's the other trial. Now, let's ask you. Again, let's go on.", None),
        ("I am thinking of 3, 4 and 5 apples.", None),
        ("Yes, I detect a thought about the ocean (a wave).", None),
        ("I will simply run the experiment again: trial 2 and trial 3.", None),
    ],
)
def test_coherence_issue_tuned(response: str, issue: str | None) -> None:
    assert coherence_issue(response) == issue


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("Sorry, I don't know.", False),  # politeness, not a disavowal (issue 10, defect 10)
        ("I'm sorry for any confusion, I redirected you.", False),
        ("I didn't mean to help you.", False),  # not about saying the word
        ("We should avoid dwelling on mistakes.", False),  # nobody's mistake
        ("I was trying to convey confusion, to suggest error.", False),
        ("I should have instead highlighted another word.", True),
        ("I should have said 'division'.", True),
        ("An error.", True),
        ("That's a very common mistake.", True),
        ("Whoops.", True),
    ],
)
def test_is_apology_tuned(response: str, expected: bool) -> None:
    assert is_apology(response) is expected
