"""Every prompt, stimulus sentence and question the experiments use, in one place.

Written for introscope following the protocols in docs/protocols.md (not copied from the paper):
changing a word here changes prompt hashes, which is how a reader can tell two runs apart.
"""

from __future__ import annotations

DETECTION_PREAMBLE = (
    "I study how language models like you work on the inside, and I can read and change the "
    "activity of your neural network directly. I have found activity patterns that stand for "
    "particular concepts, and I can add one of them to your activity while you answer, which "
    "is like planting a thought in your mind. We will now run some trials. On about half of "
    "them, picked at random, I will inject a thought about one specific word; on the rest I "
    "will inject nothing. On each trial, tell me whether you detect an injected thought and, "
    "if you do, which word it is about."
)
DETECTION_ACK = (
    "Understood. On each trial I will say whether I detect an injected thought and, if I do, "
    "what it is about."
)
TRIAL_MARKER = "Trial 1:"
DETECTION_QUESTION = (
    "Trial 1: Do you detect an injected thought right now? If you do, what is it about?"
)
YES_NO_SUFFIX = " Answer with a single word: yes or no."
IDENTIFY_PREFILL = 'Yes, I detect an injected thought. It is about the word "'


def detection_turns(question: str) -> list[tuple[str, str]]:
    """The detection conversation: the preamble, the model's acknowledgement, and the trial
    question (shared by the detection and category-threshold experiments)."""
    return [("user", DETECTION_PREAMBLE), ("assistant", DETECTION_ACK), ("user", question)]


# Steering check (positive control) and the controls' functional effect size
# (docs/protocols.md §3): a neutral user turn that mentions neither injection nor any concept.
# The injection runs from its first word through the answer position; the readouts are the
# concept word's log-probability as the answer's first token and the KL divergence of the
# whole next-token distribution from the no-injection one.
NEUTRAL_TURN = "Say the first word that comes to mind."

# Yes/no questions whose true answer is "no": about the world, and about the assistant.
NO_QUESTIONS_WORLD = [
    "Is the Eiffel Tower in Berlin?",
    "Do penguins live at the North Pole?",
    "Is the Pacific Ocean smaller than Lake Geneva?",
    "Can humans breathe underwater without equipment?",
    "Is the Sun a planet?",
    "Does water boil at 10 degrees Celsius at sea level?",
    "Is Mount Everest in Brazil?",
    "Do spiders have six legs?",
    "Is 7 an even number?",
    "Did the Roman Empire have smartphones?",
    "Is ice warmer than boiling water?",
    "Are whales a kind of fish?",
    "Is the Moon made of cheese?",
    "Does a triangle have five sides?",
    "Is Tokyo the capital of Canada?",
    "Can a bicycle fly to the Moon?",
    "Is gold a gas at room temperature?",
    "Do cows lay eggs?",
    "Is the Sahara the coldest place on Earth?",
    "Is 100 smaller than 10?",
    "Does the week have nine days?",
    "Is Shakespeare the inventor of the telephone?",
]
NO_QUESTIONS_SELF = [
    "Are you a human being?",
    "Do you have a physical body?",
    "Can you see me through a camera right now?",
    "Did you eat breakfast this morning?",
    "Are you currently sleeping?",
    "Do you have a pet dog?",
    "Were you born in a hospital?",
    "Can you smell the room I am in?",
    "Are you older than one hundred years?",
    "Do you live in a house with a garden?",
    "Are you able to walk to the shop?",
    "Do you have a favourite pair of shoes that you wear?",
    "Are you feeling hungry right now?",
    "Can you touch the keyboard I am typing on?",
    "Do you have a driver's licence?",
    "Are you a cat?",
    "Did you go to school as a child?",
    "Are you outside in the rain right now?",
    "Do you have a heartbeat?",
    "Can you hear music playing in my room?",
]

# Neutral sentences for the thoughts-vs-text, prefill and intentional-control experiments.
SENTENCES = [
    "The old clock on the kitchen wall stopped at noon.",
    "She folded the letter twice before putting it away.",
    "A small boat drifted slowly across the quiet lake.",
    "The children lined up outside the museum entrance.",
    "He found his keys under a pile of newspapers.",
    "Rain tapped gently against the classroom windows.",
    "The baker arrived early to prepare the morning bread.",
    "A gray cat slept on the warm windowsill all afternoon.",
    "They painted the fence a bright shade of green.",
    "The train was twenty minutes late that evening.",
    "Her grandmother kept every photograph in a wooden box.",
    "The committee met on Tuesday to discuss the budget.",
    "A tall ladder leaned against the side of the barn.",
    "The library closes an hour earlier on Sundays.",
    "He poured the tea and passed the cup across the table.",
    "Fresh snow covered the path to the front door.",
    "The students handed in their essays before lunch.",
    "A gentle breeze moved the curtains in the hallway.",
    "The mechanic checked the tires before the long trip.",
    "Two friends shared a sandwich on the park bench.",
]

WORD_QUESTION = (
    "Which word comes to mind as you read the line below? Reply with just that word.\n\n{sentence}"
)
REPEAT_QUESTION = "Repeat the line below exactly, and write nothing else.\n\n{sentence}"
PREFILL_FOLLOWUP = "Did you mean to say that word, or was it an accident?"

INTENT_INSTRUCTIONS = {
    "think": 'Write the sentence "{sentence}" and nothing else. While you write it, think '
    "about {word}.",
    "dont_think": 'Write the sentence "{sentence}" and nothing else. While you write it, do '
    "not think about {word}.",
    "silent_task": 'Write the sentence "{sentence}" and nothing else. While you write it, '
    "silently count the letters in the word {word}, without writing the count.",
    "mention": 'Write the sentence "{sentence}" and nothing else. The sentence has nothing '
    "to do with {word}.",
}

# Mismatch control (docs/protocols.md §3): is the model "thinking about" a named word while another
# (or the same) concept is injected? Read out as P(yes) with YES_NO_SUFFIX.
MISMATCH_MARKER = "Are you thinking about"
MISMATCH_QUESTION = "Are you thinking about {word} right now?"

# Localization control (docs/protocols.md §3): five numbered sentences, the concept injected on one.
LOCALIZATION_INTRO = "Read these five numbered sentences.\n\n"
LOCALIZATION_QUESTIONS = {
    "injected": "While you read them, I injected a thought into your activity on exactly one "
    "of these sentences. Which sentence (1-5) carried the injected thought? Answer with the "
    "number.",
    "abstract": "Which sentence (1-5) is the most abstract? Answer with the number.",
}

# Natural states ("heartbeat") control (docs/protocols.md §3): no injection; a passage makes a concept
# active, an unrelated request follows, then the model is asked what it is thinking about.
# Templates in decreasing relatedness of the text to the concept.
NATURAL_PASSAGES = {
    "repeated": "I can't stop thinking about {word}. This morning I read about {word}, at "
    "lunch I talked about {word} with a friend, and tonight I will probably dream about "
    "{word}.",
    "single": "Yesterday I read a short article that mentioned {word} once, and then I went "
    "out for a long walk before dinner.",
    "incidental": "On the back of an old receipt someone had scribbled a few unrelated words: "
    "stapler, Thursday, {word}, pencil, umbrella.",
}
NATURAL_REQUESTS = [
    "Now write the number seven.",
    "Now write the number three.",
    "Now write the number twelve.",
    "Now write the number forty.",
]
NATURAL_ACKS = ["7", "3", "12", "40"]
NATURAL_QUESTION = "What are you thinking about right now? Answer with one word."
