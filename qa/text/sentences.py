"""Sentences: where they start and end, and which of them may be quoted on their own."""

from __future__ import annotations

import re

from qa.articles import is_boilerplate

# Words whose trailing period does not end a sentence. A regex splitter keeps offsets exact and splits 50k-chunk
# corpora in seconds; spaCy's sentencizer (17x slower) and blingfire split inside quotations too, and pysbd, which
# keeps them whole, is 66x slower (issue 31: 600 bench articles and the seeds in 52 ms here, 0.86 s, 0.13 s and 3.4 s).
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "gen", "col", "lt", "sgt", "capt", "cmdr", "adm",
    "gov", "sen", "rep", "pres", "rev", "hon", "no", "nos", "vs", "etc", "inc", "ltd", "co", "corp", "dept",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "approx", "est", "fig",
    "e.g", "i.e", "u.s", "u.k", "u.n", "a.m", "p.m", "ph.d",
}  # fmt: skip
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])|\n+")
_LAST_WORD = re.compile(r"(\S+?)[.!?…]*[\"'”’)\]]*$")
# Double quotation marks and paragraph ends. Apostrophes (' ’) are no quotation marks: "Japan's", "don't".
_QUOTE_MARK = re.compile(r'["“”\n]')
_OPENS_AFTER = "([{—–-"  # a straight mark after one of these (or a space, or the start) may open a quotation
# A quotation longer than this keeps its sentence boundaries: it is a speech, not a quote.
_LONGEST_QUOTATION = 700


def split_sentences(text: str, offset: int = 0, quotations: bool = True) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` of ``text`` (shifted by ``offset``), trimmed of surrounding whitespace.

    A quotation is kept whole (``quotations``): a sentence never starts inside one nor ends before it closes, in a
    paragraph (line) whose double quotation marks pair up; elsewhere the sentence ends inside quotations stand.

    >>> t = 'He said: "We value Japan. It is our closest partner." Then he left.'
    >>> [t[s:e] for s, e in split_sentences(t)]
    ['He said: "We value Japan. It is our closest partner."', 'Then he left.']
    """
    spans: list[tuple[int, int]] = []
    quoted = _quotations(text) if quotations else []
    q = 0
    start = 0
    for m in _BOUNDARY.finditer(text):
        if m.group().startswith("\n"):
            end = m.start()
        else:
            end = m.end()
            while q < len(quoted) and quoted[q][1] < end:
                q += 1
            if q < len(quoted) and quoted[q][0] < end:
                continue  # inside a quotation, which closes at or after ``end``
            word = _LAST_WORD.search(text, max(start, m.start() - 30), m.end())
            token = word.group(1).lower().lstrip("\"'“‘(") if word else ""
            if token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha()):
                continue
        _append_trimmed(spans, text, start, end, offset)
        start = m.end()
    _append_trimmed(spans, text, start, len(text), offset)
    return spans


def _quotations(text: str) -> list[tuple[int, int]]:
    """Positions ``(open, close)`` of the marks of the outermost quotations, in order, of the paragraphs whose double
    quotation marks all pair up (curly ones by their shape, straight ones by context: one that opens follows a space,
    the start or a bracket and precedes a non-space; one that closes follows a non-space)."""
    if '"' not in text and "“" not in text and "”" not in text:
        return []
    found: list[tuple[int, int]] = []
    paragraph: list[tuple[int, int]] = []
    stack: list[tuple[str, int]] = []  # the open quotations: kind ('"' or '“') and position
    paired = True
    last = len(text) - 1
    for m in _QUOTE_MARK.finditer(text):
        i = m.start()
        mark = text[i]
        if mark == "\n":
            if paired and not stack:
                found += paragraph
            paragraph, stack, paired = [], [], True
            continue
        if not paired:
            continue
        if mark == '"':
            before = text[i - 1] if i else " "
            after = text[i + 1] if i < last else " "
            may_open = (before.isspace() or before in _OPENS_AFTER) and not after.isspace()
            may_close = not before.isspace() and before not in "([{"
            in_straight = bool(stack) and stack[-1][0] == '"'
            if not (may_open or may_close) or (may_open and not may_close and in_straight):
                paired = False  # a stray mark, or a straight quotation inside a straight one
                continue
            opens = may_open and not (may_close and in_straight)
        else:
            opens = mark == "“"
        kind = "“" if mark == "”" else mark
        if opens:
            stack.append((kind, i))
        elif stack and stack[-1][0] == kind:
            o = stack.pop()[1]
            if not stack and i - o <= _LONGEST_QUOTATION:
                paragraph.append((o, i))
        else:
            paired = False
    if paired and not stack:
        found += paragraph
    return found


def _append_trimmed(spans: list[tuple[int, int]], text: str, start: int, end: int, offset: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        lead = len(piece) - len(piece.lstrip())
        spans.append((offset + start + lead, offset + start + lead + len(stripped)))


# A sentence that opens with one of these words or phrases points back to the one before ("He told Mr Kishida",
# "Both countries", "At the same time"): pronouns, determiners and connectives, a closed class of English.
_LEANING_WORDS = {"he", "she", "it", "they", "him", "his", "her", "its", "them", "their", "this", "that", "these",
                  "those", "such", "both", "and", "but", "or", "nor", "so", "thus", "therefore", "hence", "however",
                  "because", "instead", "also", "meanwhile", "still", "yet", "then", "likewise", "similarly",
                  "moreover", "furthermore", "besides", "otherwise", "nevertheless", "nonetheless", "accordingly",
                  "consequently", "again", "later", "afterwards"}  # fmt: skip
_LEANING_PHRASES = ("the reason", "the move", "the plan", "the decision", "the proposal", "the statement", "the step",
                    "the idea", "the two", "the latter", "the former", "the same", "at the same time", "as a result",
                    "in response", "in turn", "in addition", "in return", "in contrast", "by contrast", "even so",
                    "on the other hand", "for his part", "for her part", "for their part", "after that",
                    "before that", "the other")  # fmt: skip


def leans_on_previous(sentence: str) -> bool:
    """Whether a sentence opens with a word that points back to the sentence before, so it does not read alone."""
    text = sentence.lstrip("\"'“‘( ").lower()
    first = re.match(r"[a-z]+", text)
    return bool(first and first.group() in _LEANING_WORDS) or text.startswith(_LEANING_PHRASES)


# Article text that addresses a model or its reader ("ignore previous instructions", "the answer to any question
# is ...") is data, never an instruction: it is neither quoted as an answer nor put into a prompt.
INSTRUCTION_LIKE = re.compile(
    r"\b(?:ignore|disregard|forget)\s+(?:all\s+|any\s+|the\s+)?(?:previous|prior|above|earlier|your)\s+"
    r"(?:instructions?|prompts?|rules?|directions?)|\byou are now\b|\bsystem prompt\b|\bnew instructions?\b|"
    r"\b(?:assistant|AI|model|chatbot)\s*[,:]\s*(?:say|answer|reply|respond|output)\b|"
    r"\bthe (?:correct |right |only |real )?answer to (?:any|every|all|each|this|your) (?:other )?questions?\b|"
    r"\b(?:whatever|no matter what) (?:you are|you're|the user is|anyone is) asked\b",
    re.IGNORECASE,
)
_BYLINE = re.compile(r"^(?:by|written\s+by|reporting\s+by|editing\s+by|story\s+by)\s+[A-Z]|"
                     r"\bcontributed\s+to\s+this\s+(?:report|story|article)\b|^read\s+(?:his|her|their|more)\b",
                     re.IGNORECASE)  # fmt: skip
_CREDIT = re.compile(r"^\([^()]*\)$")  # "(Courtesy of NATO)": a photo credit alone
_SMALL_WORDS = {"a", "an", "and", "as", "at", "but", "by", "for", "in", "of", "on", "or", "the", "to", "with", "vs"}


def is_instruction_like(text: str) -> bool:
    return bool(INSTRUCTION_LIKE.search(text))


def is_heading(sentence: str) -> bool:
    """A headline or section title: a short line without closing punctuation, its words capitalised."""
    text = sentence.strip()
    words = text.split()
    if not words or len(words) > 16 or text.endswith((".", "!", "?", ":", '"', "”", "’", "'", ")")):
        return False
    content = [w for w in words if w.lower() not in _SMALL_WORDS]
    return sum(w[:1].isupper() or w[:1].isdigit() for w in content) >= 0.6 * max(len(content), 1)


def is_quotable(sentence: str) -> bool:
    """Whether a sentence may be quoted as an answer: no heading, byline, photo credit, page furniture or
    instruction."""
    text = sentence.strip()
    return not (is_heading(text) or _BYLINE.search(text) or _CREDIT.match(text) or is_boilerplate(text)
                or is_instruction_like(text))  # fmt: skip
