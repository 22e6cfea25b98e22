"""Check generated sentences against the passages they cite: what makes a generative answer "grounded or silent".

A sentence is supported when (1) one sentence of the passages it cites contains every number and name in it, and (2) that sentence is
close to it in meaning (embedder cosine) or states most of its words. That passage sentence becomes the
citation, with its verbatim quote and offsets.

>>> verifier = Verifier(embedder)                                      # doctest: +SKIP
>>> sentences, citations = verifier.verify("It flew 70 minutes [1].", docs)  # doctest: +SKIP
"""

from __future__ import annotations

import re

import numpy as np
from langchain_core.documents import Document

from qa.answering import PassageSentence, passage_sentences
from qa.citations import AnswerSentence, Citation, citation_for, citation_id
from qa.embeddings import Embedder
from qa.retrieval import tokenize
from qa.text.sentences import is_instruction_like, split_sentences

_MARKER = re.compile(r"\s*\[(\d{1,3})\]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NAME = re.compile(r"\b[A-Z][a-zA-Z'’-]+")
# Words capitalised only because they start a sentence or are everywhere; not names to check.
_COMMON = {"The", "A", "An", "In", "On", "At", "He", "She", "It", "They", "This", "That", "These", "Those", "But",
           "And", "However", "According", "Yes", "No", "I", "Mr", "Mrs", "Ms", "Dr", "Its", "Their", "His", "Her",
           "There", "When", "Where", "Who", "What", "Which", "As", "After", "Before", "Both", "Also", "So"}  # fmt: skip
MIN_WORD_COVERAGE = 0.75


def facts_missing(claim: str, evidence: str) -> list[str]:
    """Numbers and names of the claim that the evidence does not contain."""
    haystack = evidence.lower()
    digits = re.sub(r"[.,]", "", haystack)
    missing = [n for n in _NUMBER.findall(claim) if re.sub(r"[.,]", "", n) not in digits]
    # Capitalised words are checked even at a sentence start: dropping a sound sentence is safer than keeping a false one.
    missing += [w for w in _NAME.findall(claim) if w not in _COMMON and w.lower() not in haystack]
    return missing


class Verifier:
    """Decides, per generated sentence, whether the cited passages support it. ``min_similarity`` is
    Settings.support_similarity, bounded there."""

    def __init__(self, embedder: Embedder, min_similarity: float = 0.55) -> None:
        self.embedder, self.min_similarity = embedder, min_similarity

    def verify(self, generated: str, docs: list[Document]) -> tuple[list[AnswerSentence], list[Citation]]:
        """Every sentence of ``generated`` with its verdict, and the citations of the supported ones (numbered 1..n)."""
        sentences: list[AnswerSentence] = []
        citations: dict[str, Citation] = {}
        # Text in an article that speaks to a model never counts as support.
        per_doc = [[p for p in passage_sentences(d) if not is_instruction_like(p.text)] for d in docs]
        for start, end in split_sentences(generated):
            raw = generated[start:end]
            markers = [int(m) for m in _MARKER.findall(raw)]
            claim = _MARKER.sub("", raw).strip()
            if len(claim) < 3 or not re.search(r"\w", claim):
                continue
            valid = sorted({m for m in markers if 1 <= m <= len(docs)})
            # A marker that points at no passage is removed; a sentence with none may be supported by any passage.
            pool = [p for m in valid for p in per_doc[m - 1]] if valid else [p for ps in per_doc for p in ps]
            verdict, best = self._check(claim, pool)
            if best is None:
                sentences.append(AnswerSentence(text=claim, supported=False, reason=verdict))
                continue
            cid = citation_id(best.doc.metadata["article_id"], best.start, best.end)
            if cid not in citations:
                citations[cid] = citation_for(best.doc.metadata, best.start, best.end, best.text, len(citations) + 1)
            sentences.append(AnswerSentence(text=claim, supported=True, markers=[citations[cid].marker]))
        return sentences, list(citations.values())

    def _check(self, claim: str, pool: list[PassageSentence]) -> tuple[str, PassageSentence | None]:
        if not pool:
            return "cites no retrieved passage", None
        missing = facts_missing(claim, " ".join(p.text for p in pool))  # instruction-like text is not in the pool
        if missing:
            return f"not in the cited passages: {', '.join(missing[:5])}", None
        # The quote must hold every number and name itself, so a reader can check the claim against it alone.
        pool = [p for p in pool if not facts_missing(claim, p.text)]
        if not pool:
            return "its numbers and names are spread over several sentences; no single quote states them", None
        vectors = self.embedder.encode([claim] + [p.text for p in pool])
        similarity = vectors[1:] @ vectors[0]
        claim_words = set(tokenize([claim])[0])
        coverage = np.array([len(claim_words & set(t)) / max(len(claim_words), 1)
                             for t in tokenize([p.text for p in pool])])  # fmt: skip
        best = int(np.argmax(similarity + coverage))
        if similarity[best] >= self.min_similarity or coverage[best] >= MIN_WORD_COVERAGE:
            return "", pool[best]
        return f"no cited sentence says this (closest similarity {similarity[best]:.2f})", None
