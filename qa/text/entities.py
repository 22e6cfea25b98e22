"""Entity guesses from capital letters: the names and phrases a question or answer is about."""

from __future__ import annotations

import re

# Capitalised words in a row; a word ending a sentence ("Japan." but not "Mr." or "U.S.") ends the name.
_ENTITY = re.compile(r"\b[A-Z][\w'’.-]*(?:(?<![a-z]{3}\.)\s+(?:of\s+|the\s+|de\s+|von\s+)?[A-Z][\w'’.-]*)*")
_QUESTION_WORDS = {"who", "what", "when", "where", "why", "how", "which", "did", "does", "do", "is", "are", "was",
                   "were", "and", "the", "a", "an", "in", "of", "can", "could", "would", "should", "tell", "i",
                   "has", "have", "had", "will", "whom", "whose", "summarize", "summarise", "give", "me"}  # fmt: skip
_MONTHS = re.compile(r"^(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?$", re.I)


def key_entities(text: str) -> list[str]:
    """Capitalised names and phrases of a text, without question words, e.g. ["Kishida", "Vilnius"]."""
    phrases = (text[start:end].rstrip(".?!,") for start, end in entity_spans(text))
    return list(dict.fromkeys(p for p in phrases if p))


def is_entity(answer: str) -> bool:
    """Whether a short answer names a person, place or organisation: a few capitalised words, not a date."""
    words = answer.strip().strip("\"'“”").split()
    if not 1 <= len(words) <= 8 or _MONTHS.match(words[0]):
        return False
    names = [w for w in words if w.lower() not in ("of", "the", "and", "de", "von", "for", "la")]
    return bool(names) and all(w[0].isupper() for w in names) and not any(c.isdigit() for c in answer)


def entity_spans(text: str) -> list[tuple[int, int]]:
    """Where the capitalised names of a text are, without leading question words ("Does France" -> "France")."""
    spans = []
    for m in _ENTITY.finditer(text):
        start = m.start()
        for word in m.group().split():
            if word.lower() not in _QUESTION_WORDS:
                break
            start = text.index(word, start) + len(word)
        start = len(text) - len(text[start:].lstrip())
        if start < m.end() and not _MONTHS.match(text[start : m.end()]):
            spans.append((start, m.end()))
    return spans
