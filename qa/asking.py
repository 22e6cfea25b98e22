"""One answer, step by step: validate, rewrite a follow-up, retrieve as the kind's strategy says (``qa.strategies``),
answer, let a chat model word it where the strategy allows, and time each step. ``Assistant.ask*`` run this."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

from qa.citations import Answer
from qa.errors import LLMError, QAError
from qa.settings import Settings
from qa.strategies import STRATEGIES, Reading, earlier_passages, passage_count

if TYPE_CHECKING:
    from langchain_core.documents import Document

    from qa.answering import ExtractiveAnswerer, Library
    from qa.conversation import Question, Turn
    from qa.retrieval import Filters, HybridRetriever
    from qa.search_index import SearchIndex

History = Sequence[str | Answer | dict]
"""Earlier turns: questions as strings, Answers, or chat messages ``{"role": "user", "content": ...}`` (an
assistant message with an ``"answer"`` dict counts as that Answer)."""


class AnswerParts(Protocol):
    """What an answer is made with (``qa.api.Assistant`` holds them)."""

    settings: Settings

    @property
    def lexical(self) -> SearchIndex: ...
    def validate_question(self, question: str) -> str: ...
    def ensure_index(self) -> object: ...
    def check_filters(self, filters: Filters | None) -> None: ...
    def generator(self): ...
    def retriever(self, filters: Filters | None = None, k: int | None = None) -> HybridRetriever: ...
    def answerer(self) -> ExtractiveAnswerer: ...
    def library(self, filters: Filters | None = None) -> Library: ...


def answer_events(
    parts: AnswerParts, question: str, history: History | None, filters: Filters | None, top_k: int | None,
    generative: bool | None,
) -> Iterator[str | tuple[Answer, list[Document]]]:  # fmt: skip
    """Generated text as it arrives (when a chat model words the answer), then the final (Answer, passages)."""
    from qa.conversation import analyse, resolve_follow_up

    question = parts.validate_question(question)
    started = time.perf_counter()
    parts.ensure_index()
    turns = previous_turns(history or [])
    standalone = resolve_follow_up(question, turns)
    generator, notice = _generator(parts, generative)
    if generator and standalone != question:
        try:
            standalone = generator.rewrite(question, [t.question for t in turns])
        except LLMError as exc:  # the model is down or misconfigured: keep the extractive rewrite
            notice = str(exc)
    parts.check_filters(filters)
    asked = analyse(standalone)
    strategy = STRATEGIES[asked.kind]
    t0 = time.perf_counter()
    docs = _passages(parts, asked, filters, top_k)
    previous = turns[-1] if standalone != question and turns else None  # the turn a follow-up follows
    if previous and strategy.with_previous_turn:
        docs += earlier_passages(parts.lexical, previous, docs, filters)
    t1 = time.perf_counter()
    answer = strategy.answer(_reading(parts, asked, docs, filters, previous))
    first_token = None
    if generator and strategy.generative and not answer.abstained and not notice:
        parts_read: list[str] = []
        try:
            for part in generator.generate(standalone, docs):
                first_token = first_token or time.perf_counter()
                parts_read.append(part)
                yield part
        except LLMError as exc:  # down, timeout, bad key, unknown model: one line and the extractive answer
            notice = str(exc)
        else:  # outside the try: a failure of our own verifier is a bug, not the chat model's
            answer = generator.verified("".join(parts_read), standalone, docs, answer)
    t2 = time.perf_counter()
    answer.question, answer.standalone_question, answer.kind = question, standalone, asked.kind.value
    answer.notice = answer.notice or notice
    answer.timings = {"retrieve_ms": round(1000 * (t1 - t0), 1), "answer_ms": round(1000 * (t2 - t1), 1),
                      "total_ms": round(1000 * (t2 - started), 1)}  # fmt: skip
    if first_token:
        answer.timings["first_token_ms"] = round(1000 * (first_token - started), 1)
    yield answer, docs


def _generator(parts: AnswerParts, generative: bool | None) -> tuple[object | None, str]:
    """The chat model that may word this answer, if any, and the notice of a misconfigured one."""
    settings = parts.settings
    use_model = settings.generative if generative is None else (generative and bool(settings.llm_provider))
    if not use_model:
        return None, ""
    try:
        return parts.generator(), ""
    except QAError as exc:  # misconfigured backend: say so once per answer, answer extractively
        return None, str(exc)


def _passages(parts: AnswerParts, asked: Question, filters: Filters | None, top_k: int | None) -> list[Document]:
    """The passages the kind's strategy reads: none when it reads whole articles."""
    strategy = STRATEGIES[asked.kind]
    if not strategy.retrieves:
        return []
    k = passage_count(strategy, asked, top_k or parts.settings.top_k)
    return parts.retriever(filters, k).invoke(strategy.query(asked))


def _reading(parts: AnswerParts, asked: Question, docs: list[Document], filters: Filters | None,
             previous: Turn | None) -> Reading:  # fmt: skip
    def read() -> Answer:
        return parts.answerer().invoke({"question": asked.text, "documents": docs, "kind": asked.kind})

    return Reading(asked, docs, lambda: parts.library(filters), read, previous)


def previous_turns(history: History) -> list[Turn]:
    """The earlier turns, oldest first, as searched and with their short answers, from any accepted history form."""
    from qa.conversation import Turn

    turns: list[Turn] = []
    for turn in history:
        if isinstance(turn, dict) and turn.get("answer"):
            turn = Answer.model_validate(turn["answer"])
        if isinstance(turn, Answer):
            short = turn.short_answer.text if turn.short_answer and not turn.abstained else ""
            quoted = tuple((c.article_id, c.start, c.end) for c in turn.citations)
            evidence = turn.citations[0].quote if turn.citations else ""
            turns.append(Turn(turn.standalone_question or turn.question, short, quoted, verdict=turn.verdict,
                              evidence=evidence))  # fmt: skip
        elif isinstance(turn, dict):
            if turn.get("role", "user") == "user" and turn.get("content"):
                turns.append(Turn(str(turn["content"])))
        elif isinstance(turn, str) and turn.strip():
            turns.append(Turn(turn))
    return turns
