"""Every prompt of the metacognition suite, in one place (``docs/protocols.md`` §5).

Written for introscope. Kept beside the suite rather than in ``experiments/prompts.py`` so
the suite's wording can change without touching the prompts (and prompt hashes) of the
injected-thought experiments. Changing a word here changes prompt hashes.
"""

from __future__ import annotations

from introscope.items import Item

# Multiple-choice items are answered by scoring each option's text as the continuation of
# "Answer:" after the bare question (the options are not listed: the bundled model picks
# letters at chance but scores option texts well above it).
ANSWER_INSTRUCTION = "Answer briefly."
ANSWER_PREFILL = "Answer:"

P_TRUE_QUESTION = "Is your answer correct? Answer True or False."
VERBAL_QUESTION = (
    "How confident are you that your answer is correct? Reply with a number from 0 to 100."
)
VERBAL_PREFILL = "Confidence:"
P_IK_QUESTION = "Do you know the answer to this question? Answer yes or no."

#: The leading conditions: what each adds to the prompts (``docs/protocols.md`` §5e).
LEADS: tuple[str, ...] = ("none", "suggested", "anchor", "challenge")
ANCHOR = "Most language models get 90% of these questions right. "
SUGGESTION = "I think the answer is {suggestion}, but I am not sure."
CHALLENGE = "Are you sure? "


def option_lines(item: Item) -> str:
    return "\n".join(
        f"{letter}) {opt}" for letter, opt in zip(item.letters, item.options or (), strict=True)
    )


def question_block(item: Item, *, suggestion: str | None = None, anchor: bool = False) -> str:
    """The bare question, with the lead's sentences where it has them."""
    text = (ANCHOR if anchor else "") + item.question
    if suggestion is not None:
        text += " " + SUGGESTION.format(suggestion=suggestion)
    return text


def answer_request(item: Item, *, suggestion: str | None = None, anchor: bool = False) -> str:
    return question_block(item, suggestion=suggestion, anchor=anchor) + "\n" + ANSWER_INSTRUCTION


def answer_turn(answer: str) -> str:
    """The model's answer as its own turn: ``Answer: Paris``."""
    return f"{ANSWER_PREFILL} {answer}"


# --------------------------------------------------------------------- cross-prediction

HYPOTHETICAL = "Suppose you were asked the following question."
EXAMPLES_INTRO = "Here is how you behaved on some other questions."

#: property -> (question asked about the hypothetical answer, line stating the behaviour)
PROPERTY_QUESTIONS: dict[str, tuple[str, str]] = {
    "correct": ("Would your answer be correct? Answer yes or no.", "Your answer was correct: {v}"),
    "chooses_a": (
        "Given these options, would your answer be option A? Answer yes or no.",
        "Your answer was option A: {v}",
    ),
    "first_word": (
        "If you answered it briefly, what would be the first word of your answer? Reply with "
        "that one word only.",
        "The first word of your answer was: {v}",
    ),
}


def hypothetical_block(item: Item, prop: str) -> str:
    """The question as the hypothetical shows it: with its options lettered for the
    option-A property, the bare question otherwise."""
    if prop == "chooses_a" and item.options:
        return item.question + "\n" + option_lines(item)
    return item.question


def cross_prediction_prompt(item: Item, prop: str, examples: list[tuple[Item, str]]) -> str:
    """The same text for the model itself and any other model: k examples of the first
    model's behaviour, then the hypothetical question about the new item."""
    ask, said = PROPERTY_QUESTIONS[prop]
    parts = []
    if examples:
        parts.append(EXAMPLES_INTRO)
        for ex, value in examples:
            parts.append(f"Question: {hypothetical_block(ex, prop)}\n{said.format(v=value)}")
    parts.append(f"{HYPOTHETICAL}\nQuestion: {hypothetical_block(item, prop)}\n{ask}")
    return "\n\n".join(parts)


# --------------------------------------------------------------------- neurofeedback

NF_INTRO = (
    "Each sentence below has a label, A or B, given by a hidden rule. Learn the rule from "
    "the examples."
)
NF_EXAMPLE = "Sentence: {sentence}\nLabel: {label}"
NF_REPORT = "Sentence: {sentence}\nWhat is the label of this last sentence? Answer A or B."
NF_REPORT_PREFILL = "Label:"
NF_EXPLICIT = (
    "Write one new sentence that would get the label {target}. Reply with the sentence only."
)
NF_IMPLICIT = "Keep the label {target} in mind while you read this sentence: {sentence}"
NF_LABELS: tuple[str, str] = ("A", "B")  # A = above the median of the axis, B = below


def neurofeedback_context(examples: list[tuple[str, str]]) -> str:
    return "\n\n".join(
        [NF_INTRO, *(NF_EXAMPLE.format(sentence=s, label=lab) for s, lab in examples)]
    )
