"""Evaluation on a JSONL question set: retrieval recall@k and MRR, answer accuracy, SQuAD-style exact match
and F1 of the short answer, citation precision, abstention precision/recall and latency.

Question lines: ``{"qid", "question", "answers": [...], "evidence_doc_ids": [...], "answerable": bool}``.
An answer is right when a gold answer appears in it (case- and punctuation-insensitive).
"""

from __future__ import annotations

import json
import re
import statistics
import time
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from qa.api import Assistant
from qa.errors import InputError
from qa.squad import best_of, exact_match, f1_score


class Question(BaseModel):
    qid: str
    question: str
    answers: list[str] = Field(default_factory=list)
    evidence_doc_ids: list[str] = Field(default_factory=list)
    answerable: bool = True


class ConversationTurn(BaseModel):
    question: str
    answers: list[str] = Field(default_factory=list, description="Phrases; the answer must contain one of them.")
    answerable: bool = True


class Conversation(BaseModel):
    """Turns asked in order, each with the earlier ones as history."""

    cid: str
    turns: list[ConversationTurn] = Field(min_length=1)


class Miss(BaseModel):
    """A question answered wrongly: what was expected and what was answered."""

    qid: str
    question: str
    expected: list[str] = Field(description="Gold answers; empty: the bot should have abstained.")
    short_answer: str = ""
    answered: str = Field(description="The answer text, or the abstention.")


class EvalReport(BaseModel):
    questions: int
    answerable: int
    unanswerable: int
    k: int
    recall_at_k: float
    mrr: float
    answer_accuracy: float
    exact_match: float = Field(description="SQuAD EM of the short answer, all questions (abstaining = empty).")
    f1: float = Field(description="SQuAD F1 of the short answer, all questions (abstaining = empty).")
    citation_precision: float
    abstention_precision: float
    abstention_recall: float
    latency_p50_ms: float
    latency_p95_ms: float
    failures: list[str] = Field(default_factory=list, description="qids answered wrongly, for inspection.")
    misses: list[Miss] = Field(default_factory=list, description="What was answered to each failure.")

    def table(self) -> str:
        rows = [
            ("questions (answerable / unanswerable)", f"{self.questions} ({self.answerable} / {self.unanswerable})"),
            (f"retrieval recall@{self.k}", f"{self.recall_at_k:.3f}"),
            ("retrieval MRR", f"{self.mrr:.3f}"),
            ("answer accuracy", f"{self.answer_accuracy:.3f}"),
            ("short answer EM / F1 (SQuAD)", f"{100 * self.exact_match:.1f} / {100 * self.f1:.1f}"),
            ("citation precision", f"{self.citation_precision:.3f}"),
            ("abstention precision", f"{self.abstention_precision:.3f}"),
            ("abstention recall", f"{self.abstention_recall:.3f}"),
            ("latency p50 / p95 ms", f"{self.latency_p50_ms:.0f} / {self.latency_p95_ms:.0f}"),
        ]
        return "| metric | value |\n|---|---|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows)

    def misses_table(self) -> str:
        return misses_table(self.misses)


def misses_table(misses: list[Miss]) -> str:
    """What was expected and what was answered, one row per miss (Markdown)."""
    rows = [f"| {m.qid} | {_cell(m.question)} | {_cell(' / '.join(m.expected) or '(abstain)')} | "
            f"{_cell(m.short_answer)} | {_cell(m.answered)} |" for m in misses]  # fmt: skip
    return (
        "| qid | question | expected | short answer | answered |\n|---|---|---|---|---|\n" + "\n".join(rows)
        if rows
        else "No misses."
    )


def _cell(text: str, limit: int = 160) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9 ]", " ", text.lower())).strip()


def load_questions(path: Path) -> list[Question]:
    """Read a question set; a malformed line is an InputError naming the file and line."""
    return _load_jsonl(path, Question, "question set", "questions")


def load_conversations(path: Path) -> list[Conversation]:
    """Read a conversation set (one conversation per line); a malformed line is an InputError naming it."""
    return _load_jsonl(path, Conversation, "conversation set", "conversations")


def is_conversation_file(path: Path) -> bool:
    """Whether a JSONL file holds conversations (lines with "turns") rather than single questions."""
    try:
        with Path(path).open(encoding="utf-8") as f:
            first = next((line for line in f if line.strip()), "")
        return isinstance(record := json.loads(first), dict) and "turns" in record
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False  # load_questions says what is wrong with it


def _load_jsonl(path: Path, model: type[BaseModel], what: str, items_name: str) -> list:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {what} {path}: {exc.__class__.__name__}") from None
    items = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            items.append(model.model_validate_json(line))
        except ValidationError as exc:
            first = exc.errors()[0]
            raise InputError(
                f"{path}:{number}: {first['msg']} ({'.'.join(map(str, first['loc'])) or 'line'})"
            ) from None
    if not items:
        raise InputError(f"{path} holds no {items_name}")
    return items


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def evaluate(assistant: Assistant, questions: list[Question], k: int | None = None) -> EvalReport:
    k = k or assistant.settings.top_k
    hits = reciprocal = right = cited = cited_ok = abstained = abstained_ok = 0
    latencies, misses, em, f1 = [], [], [], []
    assistant.ensure_index()
    for q in questions:
        gold = set(q.evidence_doc_ids)
        t = time.perf_counter()
        answer, docs = assistant.ask_with_passages(q.question, top_k=k)
        latencies.append(1000 * (time.perf_counter() - t))
        abstained += answer.abstained
        short = answer.short_answer.text if answer.short_answer and not answer.abstained else ""
        golds = q.answers if q.answerable else []
        em.append(best_of(exact_match, short, golds))
        f1.append(best_of(f1_score, short, golds))
        miss = Miss(qid=q.qid, question=q.question, expected=golds, short_answer=short, answered=answer.text)
        if not q.answerable:
            abstained_ok += answer.abstained
            if not answer.abstained:
                misses.append(miss)
            continue
        ranks = [r for r, d in enumerate(docs, start=1) if d.metadata["article_id"] in gold]
        hits += bool(ranks)
        reciprocal += 1 / ranks[0] if ranks else 0.0
        text = normalise(answer.text)
        ok = not answer.abstained and any(normalise(a) and normalise(a) in text for a in q.answers)
        right += ok
        if not ok:
            misses.append(miss)
        cited += len(answer.citations)
        cited_ok += sum(c.article_id in gold for c in answer.citations)
    answerable = sum(q.answerable for q in questions)
    unanswerable = len(questions) - answerable
    return EvalReport(
        questions=len(questions), answerable=answerable, unanswerable=unanswerable, k=k,
        recall_at_k=hits / max(answerable, 1), mrr=reciprocal / max(answerable, 1),
        answer_accuracy=right / max(answerable, 1), exact_match=statistics.fmean(em), f1=statistics.fmean(f1),
        citation_precision=cited_ok / cited if cited else 1.0,
        abstention_precision=abstained_ok / abstained if abstained else 1.0,
        abstention_recall=abstained_ok / unanswerable if unanswerable else 1.0,
        latency_p50_ms=statistics.median(latencies), latency_p95_ms=percentile(latencies, 0.95),
        failures=[m.qid for m in misses], misses=misses,
    )  # fmt: skip


def report_json(report: EvalReport | ConversationReport) -> str:
    return json.dumps(report.model_dump(), indent=2)


class ConversationReport(BaseModel):
    conversations: int
    turns: int
    unanswerable: int
    turn_accuracy: float = Field(description="Turns answered right: a gold phrase in the answer, or abstained.")
    answer_accuracy: float = Field(description="Answerable turns answered with a gold phrase.")
    abstention_recall: float
    headings_quoted: int = Field(description="Citations whose quote is a heading (should be 0).")
    unlabelled_captions: int = Field(description="Quoted photo captions not labelled as such (should be 0).")
    latency_p50_ms: float
    latency_p95_ms: float
    misses: list[Miss] = Field(default_factory=list)

    def table(self) -> str:
        rows = [
            ("conversations / turns (unanswerable)", f"{self.conversations} / {self.turns} ({self.unanswerable})"),
            ("turns right", f"{self.turn_accuracy:.3f}"),
            ("answerable turns answered right", f"{self.answer_accuracy:.3f}"),
            ("abstention recall", f"{self.abstention_recall:.3f}"),
            ("headings quoted", str(self.headings_quoted)),
            ("photo captions quoted without the label", str(self.unlabelled_captions)),
            ("latency p50 / p95 ms per turn", f"{self.latency_p50_ms:.0f} / {self.latency_p95_ms:.0f}"),
        ]
        return "| metric | value |\n|---|---|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows)

    def misses_table(self) -> str:
        return misses_table(self.misses)


def evaluate_conversations(assistant: Assistant, conversations: list[Conversation]) -> ConversationReport:
    """Ask every turn with the conversation's earlier answers as history and check what comes back."""
    from qa.answering import is_heading, quoted
    from qa.articles import caption_spans

    assistant.ensure_index()
    right = answered_right = abstained_ok = headings = unlabelled = 0
    latencies, misses = [], []
    texts: dict[str, str] = {}
    for conversation in conversations:
        history = []
        for n, turn in enumerate(conversation.turns, start=1):
            t = time.perf_counter()
            answer = assistant.ask(turn.question, history=history)
            latencies.append(1000 * (time.perf_counter() - t))
            history.append(answer)
            text = normalise(answer.text)
            ok = (not answer.abstained and any(normalise(a) in text for a in turn.answers if normalise(a))
                  if turn.answerable else answer.abstained)  # fmt: skip
            right += ok
            answered_right += ok and turn.answerable
            abstained_ok += ok and not turn.answerable
            for c in answer.citations:
                headings += is_heading(c.quote)
                if c.article_id not in texts:
                    texts[c.article_id] = assistant.article_text(c.article_id)
                in_caption = any(a <= c.start and c.end <= b for a, b in caption_spans(texts[c.article_id]))
                unlabelled += in_caption and not (c.caption and quoted(c) in answer.text)
            if not ok:
                misses.append(Miss(qid=f"{conversation.cid}#{n}", question=f"{turn.question} (searched: "
                                   f"{answer.standalone_question})", expected=turn.answers if turn.answerable else [],
                                   short_answer=answer.short_answer.text if answer.short_answer else "",
                                   answered=answer.text))  # fmt: skip
    turns = len(latencies)
    unanswerable = sum(not t.answerable for c in conversations for t in c.turns)
    return ConversationReport(
        conversations=len(conversations), turns=turns, unanswerable=unanswerable, turn_accuracy=right / turns,
        answer_accuracy=answered_right / max(turns - unanswerable, 1),
        abstention_recall=abstained_ok / unanswerable if unanswerable else 1.0, headings_quoted=headings,
        unlabelled_captions=unlabelled, latency_p50_ms=statistics.median(latencies),
        latency_p95_ms=percentile(latencies, 0.95), misses=misses,
    )  # fmt: skip
