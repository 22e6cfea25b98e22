"""A conversation's turns, with question analysis (qa/questions.py) and follow-ups made standalone
(qa/follow_ups.py), importable from here.

Extractive mode works without a language model, so a follow-up is rewritten by rules: a pronoun takes the
entity it refers to (the previous short answer when that names someone or something, else the previous
question's subject), and an elliptical follow-up ("Why?", "And South Korea?") is rebuilt from the previous
standalone question. A "Why?" after a yes/no question asks why the side the articles took holds, never the other,
and a follow-up that refers back by pronoun keeps the place or occasion the previous question named.

>>> earlier = [Turn("Who is NATO's Secretary General?", "Jens Stoltenberg")]
>>> resolve_follow_up("What did he say about Japan?", earlier)
'What did Jens Stoltenberg say about Japan?'
>>> resolve_follow_up("Why?", [Turn("Who opposes the Tokyo liaison office?", "President Emmanuel Macron")])
'Why does President Emmanuel Macron oppose the Tokyo liaison office?'
>>> said = "President Emmanuel Macron of France has indicated that he opposes the plan."
>>> resolve_follow_up("Why?", [Turn("Does Macron support the Tokyo liaison office?", verdict="no", evidence=said)])
'Why does Macron oppose the Tokyo liaison office?'
>>> analyse("Is China mentioned?").kind, analyse("Is China mentioned?").topic
(<Kind.MENTION: 'mention'>, 'China')
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Turn:
    """An earlier turn: the question as it was searched, the short answer it got ("" when none), the passages
    its answer quoted and, after a yes/no question, the side its answer took and the first sentence it quoted."""

    question: str
    answer: str = ""
    quoted: tuple[tuple[str, int, int], ...] = ()  # (article id, start, end) of each quote, for a follow-up to read
    # "yes"/"no" as an English reply means it, of the question with its "not" taken out: "Isn't Japan a member of
    # NATO?" answered "no" means Japan is not one. None: the answer took no side. A "Why?" then asks that side.
    verdict: str | None = None
    evidence: str = ""  # the first sentence the answer quoted: its verb words a "Why?" after a "no"


# Imported after Turn: qa.follow_ups reads Turn's fields (its annotations name it only for type checkers).
from qa.follow_ups import resolve_follow_up  # noqa: E402, F401
from qa.questions import Kind, Question, analyse  # noqa: E402, F401
