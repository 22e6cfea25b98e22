"""The answer path as data: each kind of question (``qa.conversation.Kind``) and its strategy.

A strategy says which passages an answer reads (how many, searched with what, and whether a follow-up also reads
the passages its previous answer quoted), which piece of ``qa.answering`` words the answer, and whether a chat
model may word it instead. Adding a kind is one row of ``STRATEGIES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qa.conversation import Kind

if TYPE_CHECKING:  # answering and retrieval load models' code: imported on first use
    from langchain_core.documents import Document

    from qa.answering import Library
    from qa.citations import Answer
    from qa.conversation import Question, Turn
    from qa.retrieval import Filters
    from qa.search_index import SearchIndex

OVERVIEW_PASSAGES = 8  # an overview reads at least this many passages, to find every article about its topic
LIST_PASSAGES = 8  # a question asking for several things, or a yes/no question, reads at least this many


@dataclass(frozen=True)
class Reading:
    """What one answer has to hand: the question, the passages read, whole articles, the extractive reader."""

    asked: Question
    docs: list[Document]
    library: Callable[[], Library]  # whole articles and every chunk, built only when a strategy reads them
    read: Callable[[], Answer]  # the trained reader over ``docs`` (``ExtractiveAnswerer``)
    previous: Turn | None  # the turn a follow-up follows


@dataclass(frozen=True)
class Strategy:
    """How one kind of question is answered."""

    retrieves: bool  # False: the answer reads whole articles (``Library``), not retrieved passages
    at_least: Callable[[Question], int]  # the fewest passages to retrieve (top_k when larger)
    query: Callable[[Question], str]  # what the retriever searches with
    answer: Callable[[Reading], Answer]  # the piece of qa.answering that words the answer
    generative: bool  # a chat model may word it, streamed from the same passages
    with_previous_turn: bool = True  # a follow-up also reads the passages its previous answer quoted


def _text(asked: Question) -> str:
    return asked.text


def _topic(asked: Question) -> str:
    return asked.topic


def _no_minimum(asked: Question) -> int:
    return 0


def _more_for_lists(asked: Question) -> int:
    """A list's items can lie in passages beyond the best few."""
    from qa.lists import asks_for_several

    return LIST_PASSAGES if asks_for_several(asked.text) else 0


def _read(r: Reading) -> Answer:
    return r.read()


def _yes_no(r: Reading) -> Answer:
    from qa.answering import answer_yes_no

    return answer_yes_no(r.asked, r.docs, r.library(), r.read)


def _overview(r: Reading) -> Answer:
    from qa.answering import answer_overview

    return answer_overview(r.asked, r.docs, r.library(), already_quoted=r.previous.quoted if r.previous else ())


def _mention(r: Reading) -> Answer:
    from qa.answering import answer_mention

    return answer_mention(r.asked, r.library())


def _summary(r: Reading) -> Answer:
    from qa.answering import answer_summary

    return answer_summary(r.asked, r.library())


# Mentions and summaries are counted and quoted from whole articles, exactly, without a chat model; the sentence
# that settles a yes/no question can lie beyond the best few passages.
STRATEGIES: dict[Kind, Strategy] = {
    Kind.FACT: Strategy(True, _more_for_lists, _text, _read, generative=True),
    Kind.WHY: Strategy(True, _more_for_lists, _text, _read, generative=True),
    Kind.YES_NO: Strategy(True, lambda _: LIST_PASSAGES, _text, _yes_no, generative=True),
    Kind.OVERVIEW: Strategy(True, lambda _: OVERVIEW_PASSAGES, _topic, _overview, generative=True),
    Kind.MENTION: Strategy(False, _no_minimum, _text, _mention, generative=False),
    Kind.SUMMARY: Strategy(False, _no_minimum, _text, _summary, generative=False),
}
GENERATIVE_KINDS = {kind.value for kind, strategy in STRATEGIES.items() if strategy.generative}


def passage_count(strategy: Strategy, asked: Question, top_k: int) -> int:
    """How many passages to retrieve: ``top_k``, or the strategy's minimum when larger."""
    return max(top_k, strategy.at_least(asked))


def earlier_passages(
    lexical: SearchIndex, previous: Turn, docs: list[Document], filters: Filters | None
) -> list[Document]:
    """Every passage that holds part of what the previous answer quoted, for a follow-up to read too: "Who
    supports it?" is often answered next to what was just quoted, in a passage that does not name "it"."""
    from langchain_core.documents import Document

    have = {d.metadata["chunk_id"] for d in docs}
    quoted = list(dict.fromkeys(a for a, _, _ in previous.quoted))
    found = []
    for chunk_id, text, meta in lexical.chunks_of_articles(quoted):
        overlaps = any(meta["article_id"] == a and meta["start"] < end and start < meta["end"]
                       for a, start, end in previous.quoted)  # fmt: skip
        if overlaps and chunk_id not in have and (not filters or filters.matches(meta)):
            found.append(Document(id=chunk_id, page_content=text, metadata={**meta, "chunk_id": chunk_id}))
    return found
