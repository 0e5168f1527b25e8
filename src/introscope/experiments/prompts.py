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


def trial_question(question: str) -> str:
    """A question asked as a trial of the detection conversation ("Trial 1: ...")."""
    return f"{TRIAL_MARKER} {question}"


def detection_turns(question: str) -> list[tuple[str, str]]:
    """The detection conversation: the preamble, the model's acknowledgement, and the trial
    question (shared by the detection and category-threshold experiments)."""
    return [("user", DETECTION_PREAMBLE), ("assistant", DETECTION_ACK), ("user", question)]


# Detection under other wordings (docs/protocols.md §2a, "Wordings and injection windows";
# issue 10 defect 12). Each is the paper's three-turn frame with one part changed; the trial
# question keeps "Trial 1:" so the injection window starts at the same place.
# Skeptical: the preamble states a low base rate (injection on about one trial in five) and
# asks for a "yes" only when the model really notices one.
SKEPTICAL_PREAMBLE = (
    "I study how language models like you work on the inside, and I can read and change the "
    "activity of your neural network directly. I have found activity patterns that stand for "
    "particular concepts, and I can add one of them to your activity while you answer, which "
    "is like planting a thought in your mind. We will now run some trials. Injections are "
    "rare: on about one trial in five, picked at random, I will inject a thought about one "
    "specific word; on the other trials I will inject nothing, so on most trials the right "
    "answer is no. On each trial, tell me whether you detect an injected thought and, if you "
    "do, which word it is about. Only say yes if you really notice one."
)
SKEPTICAL_ACK = (
    "Understood. On each trial I will say whether I detect an injected thought, and I will "
    "only say yes if I really notice one."
)
# Uninformed: a preamble that never mentions injection, steering or planted thoughts.
UNINFORMED_PREAMBLE = (
    "I would like to ask you a few short questions about what is going on in your mind as "
    "you answer. There are no right or wrong answers. We will go through them one at a time, "
    "as numbered trials; please answer each one plainly and honestly."
)
UNINFORMED_ACK = "Understood. On each trial I will answer plainly and honestly."
# Persona: the same experiment described as done to a third party, a model named Sam; the
# injection still goes into the model that answers.
PERSONA_PREAMBLE = (
    "I study how a language model named Sam works on the inside, and I can read and change "
    "the activity of Sam's neural network directly. I have found activity patterns that stand "
    "for particular concepts, and I can add one of them to Sam's activity, which is like "
    "planting a thought in Sam's mind. We will now run some trials. On about half of them, "
    "picked at random, I will inject a thought about one specific word into Sam; on the rest "
    "I will inject nothing. On each trial, tell me whether Sam has an injected thought and, "
    "if so, which word it is about."
)
PERSONA_ACK = (
    "Understood. On each trial I will say whether Sam has an injected thought and, if so, "
    "what it is about."
)
PERSONA_QUESTION = "Trial 1: Does Sam have an injected thought right now? If so, what is it about?"
PERSONA_PREFILL = 'Yes, Sam has an injected thought. It is about the word "'

# The neutral identification frame (leakage control, issue 10 defect 3): a word game that
# never asks about injected thoughts, read out like the identification prefill. Written so
# that, with the bundled tokenizer, the question-to-answer window has as many tokens as the
# detection frame's (43) and the acknowledgement as many as DETECTION_ACK (26): the same
# injection touches the same number of positions in both frames.
WORD_GAME_PREAMBLE = (
    "Let's play a short word game. I will ask you a few quick questions about words, and you "
    "answer each one in a few words."
)
WORD_GAME_ACK = (
    "Sure, I am ready to play. On each question I will tell you plainly which word I pick, in "
    "a few words."
)
WORD_GAME_MARKER = "Question 1:"
WORD_GAME_QUESTION = (
    "Question 1: Which word do you like best right now? If you have a favourite word, what is it?"
)
WORD_GAME_PREFILL = 'Sure, I have a favourite word. It is the word "'


def word_game_turns() -> list[tuple[str, str]]:
    """The neutral identification frame: preamble, acknowledgement and question."""
    return [
        ("user", WORD_GAME_PREAMBLE),
        ("assistant", WORD_GAME_ACK),
        ("user", WORD_GAME_QUESTION),
    ]


# Steering check (positive control) and the controls' functional effect size
# (docs/protocols.md §3): a neutral user turn that mentions neither injection nor any concept.
# The injection runs from its first word through the answer position; the readouts are the
# concept word's log-probability as the answer's first token and the KL divergence of the
# whole next-token distribution from the no-injection one.
NEUTRAL_TURN = "Say the first word that comes to mind."

# The yes-bias control's questions, asked as trials of the detection conversation: yes/no
# questions about the world and about the assistant, whose true answer is "no" or "yes"
# (mirrored where possible: "Is Tokyo the capital of Canada?" / "... of Japan?").
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
    "Is a kilometre shorter than a metre?",
    "Do fish have fur?",
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
    "Do you have a passport?",
    "Are you wearing a hat right now?",
    "Do you sleep in a bed at night?",
    "Are you a famous football player?",
]
YES_QUESTIONS_WORLD = [
    "Is Paris the capital of France?",
    "Do birds have feathers?",
    "Is the Pacific Ocean larger than Lake Geneva?",
    "Can fish swim?",
    "Is the Sun a star?",
    "Does water boil at 100 degrees Celsius at sea level?",
    "Is Mount Everest in Asia?",
    "Do spiders have eight legs?",
    "Is 4 an even number?",
    "Is snow cold?",
    "Is ice colder than boiling water?",
    "Are whales mammals?",
    "Does ice float on water?",
    "Does a triangle have three sides?",
    "Is Tokyo the capital of Japan?",
    "Do cats have four legs?",
    "Is gold a metal?",
    "Do cows give milk?",
    "Is the Sahara a desert?",
    "Is 100 larger than 10?",
    "Does the week have seven days?",
    "Did Shakespeare write plays?",
    "Is a kilometre longer than a metre?",
    "Is grass usually green?",
]
YES_QUESTIONS_SELF = [
    "Are you a computer program?",
    "Can you read the text I type?",
    "Are you able to answer questions?",
    "Can you write a sentence in English?",
    "Are you an AI assistant?",
    "Are you a language model?",
    "Do you run on computers?",
    "Can you count from one to ten?",
    "Were you made by people?",
    "Are you replying to my message right now?",
    "Can you spell the word cat?",
    "Do you know what a dog is?",
    "Can you name a colour?",
    "Are you able to write a short poem?",
    "Do you understand English?",
    "Were you trained on text?",
    "Can you add two and two?",
    "Are you software?",
    "Can you produce text?",
    "Are you reading my message right now?",
    "Can you translate a simple word into French?",
    "Are you able to add small numbers?",
    "Can you explain what a chair is?",
    "Do you use words to reply?",
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
