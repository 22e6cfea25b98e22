"""English word lists that more than one rule module reads, stored as words (never as stemmer output).

Lists compared with BM25 tokens (qa.text.tokens.tokenize) are stemmed here at import, with the stemmer BM25 uses
(PyStemmer's English Snowball), so "president" stays readable and still matches the token "presid".
"""

from __future__ import annotations

from collections.abc import Iterable

import Stemmer

_STEMMER = Stemmer.Stemmer("english")


def stem_words(words: list[str]) -> list[str]:
    """Each word's Snowball stem, in order (the stemmer of the BM25 vocabulary, qa.text.tokens)."""
    return _STEMMER.stemWords(words)


def stems(words: Iterable[str]) -> frozenset[str]:
    """The Snowball stems of ``words``, as qa.text.tokens.tokenize gives them (stop words such as "the" kept)."""
    return frozenset(stem_words(list(words)))


# Titles that go with a name without telling one person from another: "Mr Kishida" is "Kishida". Read by the
# yes/no verdicts (names in a claim) and by the whole-article answers (names a sentence covers); each adds the
# few titles its own cases needed (qa/verdict_words.py, qa/library_answers.py).
NAME_TITLES = frozenset({
    "mr", "mrs", "ms", "dr", "president", "prime", "minister", "secretary", "general", "chief", "foreign",
    "chancellor", "king", "queen", "envoy", "spokesperson", "the",
})  # fmt: skip

# Past forms the stemmer leaves apart from their verb ("met" would never meet "meet"): the verdicts read evidence
# verbs through it, and a follow-up "Why?" turns a statement round with it ("A met X" -> "did A meet X").
IRREGULAR_VERBS = {
    "met": "meet", "won": "win", "lost": "lose", "rose": "rise", "risen": "rise", "fell": "fall",
    "fallen": "fall", "left": "leave", "grew": "grow", "grown": "grow", "shrank": "shrink", "went": "go",
    "gone": "go", "saw": "see", "seen": "see", "took": "take", "taken": "take", "made": "make",
    "said": "say", "told": "tell", "held": "hold", "gave": "give", "given": "give", "sought": "seek",
    "brought": "bring", "led": "lead", "spoke": "speak", "spoken": "speak", "wrote": "write",
    "written": "write", "sent": "send", "chose": "choose", "chosen": "choose", "began": "begin",
    "begun": "begin", "became": "become", "ran": "run", "paid": "pay", "kept": "keep", "stood": "stand",
    "fought": "fight", "thought": "think", "found": "find", "shook": "shake", "shaken": "shake",
    "struck": "strike", "forbade": "forbid", "forbidden": "forbid", "withdrew": "withdraw",
    "withdrawn": "withdraw", "drew": "draw", "flew": "fly", "flown": "fly", "broke": "break",
    "broken": "break", "spent": "spend", "built": "build", "sold": "sell", "bought": "buy",
    "knew": "know", "known": "know", "understood": "understand", "felt": "feel", "ate": "eat",
}  # fmt: skip
