"""The BM25 vocabulary: lower-cased words of two or more word characters, English stop words out, Snowball-stemmed.

It is the tokenization bm25s gave (scikit-learn's token pattern and NLTK's short English stop list), kept
here so that the words stored in the search index, the question's words and the rule modules' stems agree.
"""

from __future__ import annotations

import re

from qa.text.words import stem_words

_WORD = re.compile(r"(?u)\b\w\w+\b")
STOP_WORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there these they "
    "this to was will with".split()
)


def tokenize(texts: list[str]) -> list[list[str]]:
    """Lower-cased, stop-word-free, stemmed word tokens of each text (the BM25 vocabulary)."""
    words = [[w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS] for text in texts]
    unique = list({w: None for ws in words for w in ws})
    stem_of = dict(zip(unique, stem_words(unique)))
    return [[stem_of[w] for w in ws] for ws in words]
