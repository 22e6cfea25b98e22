"""The grounded extractive answerer (a LangChain runnable after the retriever) and follow-up resolution.

The trained reader (qa/reader.py) finds the answer span in the retrieved passages; the answer is that short
answer and the sentence holding it, quoted verbatim with its offsets and an inline marker. When the best span
does not beat the reader's "no answer" by the calibrated margin, it abstains and shows related passages.

>>> chain = {"question": RunnablePassthrough(), "documents": retriever} | ExtractiveAnswerer(Reader())  # doctest: +SKIP
>>> chain.invoke("Who did Kishida meet in Vilnius?").short_answer.text                                 # doctest: +SKIP
'Jens Stoltenberg'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from langchain_core.documents import Document
from langchain_core.runnables import Runnable, RunnableConfig

from qa.chunking import split_sentences
from qa.citations import Answer, Citation, ShortAnswer, citation_for, citation_id
from qa.reader import Reader, Reading, Span, calibration, confidence

if TYPE_CHECKING:
    from qa.embeddings import Embedder
    from qa.store import ArticleStore

# A second quoted sentence joins the answer only when its span scores nearly as well as the best one
# (start + end logits) and beats "no answer" by the threshold too.
EXTRA_SPAN_MARGIN = 1.0
# Article text that addresses a model or its reader ("ignore previous instructions", "the answer to any question
# is ...") is data, never an instruction: it is neither quoted as an answer nor put into a prompt.
INSTRUCTION_LIKE = re.compile(
    r"\b(?:ignore|disregard|forget)\s+(?:all\s+|any\s+|the\s+)?(?:previous|prior|above|earlier|your)\s+"
    r"(?:instructions?|prompts?|rules?|directions?)|\byou are now\b|\bsystem prompt\b|\bnew instructions?\b|"
    r"\b(?:assistant|AI|model|chatbot)\s*[,:]\s*(?:say|answer|reply|respond|output)\b|"
    r"\bthe (?:correct |right |only |real )?answer to (?:any|every|all|each|this|your) (?:other )?questions?\b|"
    r"\b(?:whatever|no matter what) (?:you are|you're|the user is|anyone is) asked\b",
    re.I,
)
ABSTENTION_TEXT = "The articles don't say. None of the indexed passages answers this question well enough to quote."


def is_instruction_like(text: str) -> bool:
    return bool(INSTRUCTION_LIKE.search(text))


@dataclass
class PassageSentence:
    """One sentence of a retrieved passage, with offsets into its article."""

    doc: Document
    start: int
    end: int
    text: str


def passage_sentences(doc: Document) -> list[PassageSentence]:
    base = doc.metadata["start"]
    return [PassageSentence(doc, s, e, doc.page_content[s - base : e - base])
            for s, e in split_sentences(doc.page_content, offset=base)]  # fmt: skip


def sentence_vectors(sentences: list[PassageSentence], store: ArticleStore | None, embedder: Embedder) -> np.ndarray:
    """One vector per sentence: the one stored at index time; only sentences the store lacks are embedded now."""
    ids = [citation_id(p.doc.metadata["article_id"], p.start, p.end) for p in sentences]
    stored = store.sentence_vectors(ids) if store else {}
    missing = [n for n, i in enumerate(ids) if i not in stored]
    fresh = dict(zip(missing, embedder.encode([sentences[n].text for n in missing])))
    return np.stack([stored[i] if i in stored else fresh[n] for n, i in enumerate(ids)])


class ExtractiveAnswerer(Runnable[dict, Answer]):
    """Answer with the reader's best span and the sentence that holds it, or abstain.

    Input: ``{"question": str, "documents": list[Document]}`` (documents from HybridRetriever).
    ``threshold`` is the margin of the best span over "no answer" below which it abstains (default: the
    reader's calibrated one).
    """

    def __init__(self, reader: Reader, threshold: float | None = None, max_sentences: int = 2):
        if not 1 <= max_sentences <= 5:
            raise ValueError("max_sentences must be 1..5")
        self.reader, self.max_sentences = reader, max_sentences
        self.calibration = calibration(reader.model_name)
        self.threshold = self.calibration["threshold"] if threshold is None else threshold

    def invoke(self, input: dict, config: RunnableConfig | None = None, **kwargs) -> Answer:
        return self.answer(input["question"], self.reader.read(input["question"], input["documents"]))

    def answer(self, question: str, reading: Reading) -> Answer:
        """The answer to ``question`` from what the reader found."""
        reading = replace(reading, spans=[s for s in reading.spans if not is_instruction_like(_sentence(s))])
        margin = reading.margin
        if margin < self.threshold:
            closest = _one_per_sentence(reading.spans)[:3]
            related = [self._citation(s, i + 1, reading.null_score) for i, s in enumerate(closest)]
            return Answer(question=question, text=ABSTENTION_TEXT, abstained=True, related=related,
                          confidence=round(confidence(margin, self.calibration), 4) if reading.spans else 0.0)  # fmt: skip
        best = reading.spans[0]
        chosen = [best]
        for s in _one_per_sentence(reading.spans)[1:]:
            if len(chosen) >= self.max_sentences or s.score < best.score - EXTRA_SPAN_MARGIN:
                break
            if s.score - reading.null_score >= self.threshold and all(_apart(s, c) for c in chosen):
                chosen.append(s)
        citations = [self._citation(s, i + 1, reading.null_score) for i, s in enumerate(chosen)]
        text = " ".join(f"{c.quote} [{c.marker}]" for c in citations)
        short = ShortAnswer(text=best.text, article_id=best.doc.metadata["article_id"], start=best.start, end=best.end,
                            marker=1, score=citations[0].score)  # fmt: skip
        return Answer(question=question, text=text, citations=citations, short_answer=short,
                      confidence=citations[0].score)  # fmt: skip

    def _citation(self, s: Span, marker: int, null_score: float) -> Citation:
        score = confidence(s.score - null_score, self.calibration)
        return citation_for(s.doc.metadata, s.sentence_start, s.sentence_end, _sentence(s), marker, score)


def _sentence(s: Span) -> str:
    """The sentence that holds the span, verbatim."""
    base = s.doc.metadata["start"]
    return s.doc.page_content[s.sentence_start - base : s.sentence_end - base]


def _one_per_sentence(spans: list[Span]) -> list[Span]:
    """The best span of each quoted sentence (overlapping windows find the same sentence twice)."""
    seen, out = set(), []
    for s in spans:
        key = (s.doc.metadata["article_id"], s.sentence_start)
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


def _apart(a: Span, b: Span) -> bool:
    """Whether two spans quote sentences that do not overlap."""
    if a.doc.metadata["article_id"] != b.doc.metadata["article_id"]:
        return True
    return a.sentence_end <= b.sentence_start or b.sentence_end <= a.sentence_start


# --- follow-up questions ---------------------------------------------------------------------------------

_FOLLOW_UP = re.compile(
    r"\b(?:he|she|him|her|his|hers|they|them|their|theirs|it|its|this|that|these|those|there|then|the two|both)\b",
    re.I,
)
_ENTITY = re.compile(r"\b[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)*")
_QUESTION_WORDS = {"who", "what", "when", "where", "why", "how", "which", "did", "does", "do", "is", "are", "was",
                   "were", "and", "the", "a", "an", "in", "of", "can", "could", "would", "should", "tell", "i"}  # fmt: skip


def key_entities(text: str) -> list[str]:
    """Capitalised names and phrases of a question, e.g. ["Kishida", "Vilnius"]."""
    found = []
    for m in _ENTITY.finditer(text):
        words = [w for w in m.group().split() if w.lower() not in _QUESTION_WORDS]
        phrase = " ".join(words).rstrip(".?!")
        if phrase and phrase not in found:
            found.append(phrase)
    return found


def resolve_follow_up(question: str, history: list[str]) -> str:
    """Make a follow-up standalone by carrying the previous question's key entities.

    >>> resolve_follow_up("When did they shake hands?", ["Who did Kishida meet in Vilnius?"])
    'When did they shake hands? (Kishida, Vilnius)'
    """
    if not history or not _FOLLOW_UP.search(question):
        return question
    own = {e.lower() for e in key_entities(question)}
    for previous in reversed(history):
        carried = [e for e in key_entities(previous) if e.lower() not in own and e.lower() not in question.lower()]
        if carried:
            return f"{question} ({', '.join(carried)})"
    return question
