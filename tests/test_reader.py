"""The trained reader: span decoding, SQuAD metrics, short answers inside verbatim quotes, abstention."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from langchain_core.documents import Document

from qa import Assistant, QAError, Settings
from qa.reader import Reader, calibration, confidence
from qa.spans import best_span, sentence_spans
from qa.squad import best_threshold, exact_match, f1_score

from .conftest import STUCK


def test_squad_metrics_follow_the_official_normalisation():
    assert exact_match("The Normans!", "normans") == 1.0
    assert f1_score("in Vilnius, Lithuania", "Vilnius") == pytest.approx(0.5)  # precision 1/3, recall 1
    assert f1_score("", "") == 1.0 and f1_score("Vilnius", "") == 0.0


def test_best_threshold_answers_only_where_it_pays():
    # Two answerable questions answered right at high margins, one unanswerable with a low margin.
    threshold, f1 = best_threshold([5.0, 3.0, -1.0], [1.0, 1.0, 0.0], [True, True, False])
    assert -1.0 < threshold <= 3.0 and f1 == 1.0


def test_best_span_stays_in_the_passage_and_in_one_sentence():
    start = np.array([9.0, 0, 0, 5, 0, 0, 4, 0])  # token 0 is [CLS]: "no answer" scores 9 + 9
    end = np.array([9.0, 0, 0, 0, 0, 3, 0, 6])
    span = best_span(start, end, 2, 7)
    assert (span.start, span.end, span.score, span.null_score) == (3, 7, 11.0, 18.0) and span.margin == -7.0
    # Tokens 2-4 are one sentence and 5-7 another: the span may not cross between them.
    inside = best_span(start, end, 2, 7, sentence_of=np.array([0, 0, 0, 1, 1, 1]))
    assert (inside.start, inside.end) == (6, 7)
    assert (
        best_span(start, end, 2, 7, max_answer_tokens=2).end - best_span(start, end, 2, 7, max_answer_tokens=2).start
        < 2
    )


def test_sentence_spans_give_each_sentence_its_best_span():
    start = np.array([9.0, 0, 0, 5, 0, 0, 4, 0])
    end = np.array([9.0, 0, 0, 0, 0, 3, 0, 6])
    sentence_of = np.array([0, 0, 0, 1, 1, 1])  # tokens 2-4 and 5-7
    spans = sentence_spans(start, end, 2, 7, sentence_of)
    assert [(s.start, s.end, s.score) for s in spans] == [(3, 3, 5.0), (6, 7, 10.0)]
    assert max(spans, key=lambda s: s.score) == best_span(start, end, 2, 7, sentence_of=sentence_of)


def test_confidence_rises_with_the_margin():
    calib = calibration("article-qa-reader")
    assert set(calib) >= {"threshold", "confidence_slope", "confidence_intercept"}
    assert confidence(-5, calib) < confidence(calib["threshold"], calib) < confidence(8, calib)


@pytest.mark.slow
def test_the_reader_finds_the_span_in_windows_of_whole_sentences():
    text = (
        "NATO leaders met in Lithuania. " * 30
    ) + "The summit was held in Vilnius, the capital. It ended on Wednesday."
    doc = Document(page_content=text, metadata={"article_id": "a", "start": 100, "chunk_id": "a#0"})
    reader = Reader(max_tokens=64)  # a long passage: several windows
    reading = reader.read("In which city was the summit held?", [doc])
    windows = reader._windows(reader.backend, "In which city was the summit held?", [doc])
    assert len(windows) > 3 and all(w.sentences for w in windows)
    best = reading.spans[0]
    assert best.text == "Vilnius" and text[best.start - 100 : best.end - 100] == "Vilnius"
    assert text[best.sentence_start - 100 : best.sentence_end - 100] == "The summit was held in Vilnius, the capital."
    assert reading.margin > 0


# The questions the old sentence scorer got wrong (the reader issue), and one of the conversation issue. The
# shipped reader still quotes the wrong sentence for two of them: they are expected to fail until a better reader
# ships, and strict, so a reader that gets them right turns these into plain tests.
# (For the Vilnius question the reader's best span is in the summit photo's caption; the body sentence that names
# the city is quoted instead: tests/test_conversation.py.)
_WRONG_SENTENCE = pytest.mark.xfail(strict=True, reason="the shipped reader quotes another sentence")
QUESTIONS = [
    ("In which city was the 2023 NATO summit held?", "Vilnius"),
    ("How long was the North Korean missile in the air?", "70 minutes"),
    ("What did Stoltenberg say about Japan?", "No other partner is closer to NATO than Japan"),
    ("Who did Kishida meet at the start of the NATO summit in Vilnius?", "Stoltenberg"),
    ("Who said the North Korean rocket was in the air for more than 70 minutes?", "Matsuno"),
    ("When did Stoltenberg meet President Yoon?", "July 11"),
    pytest.param(
        "Who supports the Tokyo liaison office?", "the United States, the United Kingdom", marks=_WRONG_SENTENCE
    ),
    ("How many pages of its annual defense report did Japan devote to Taiwan?", "10 pages"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("question", "expected"), QUESTIONS)
def test_short_answer_inside_a_verbatim_quote(assistant, question, expected):
    answer = assistant.ask(question)
    assert not answer.abstained, answer.text
    assert expected in answer.text
    short, first = answer.short_answer, answer.citations[0]
    article = assistant.article(short.article_id)
    assert article.text[short.start : short.end] == short.text
    assert short.article_id == first.article_id and first.start <= short.start < short.end <= first.end
    assert article.text[first.start : first.end] == first.quote
    assert 0.0 < answer.confidence <= 1.0 and short.score == answer.confidence


QUIZ = """---
title: "News quiz: the week in review"
source: Quiz Desk
---
How well did you follow the news this week? Test yourself with our questions.
Which city hosted the NATO summit in July 2023?
Who is the Secretary General of NATO?
How many minutes was the North Korean missile in the air?
The answers are below.
The NATO summit of July 2023 took place in Vilnius, the capital of Lithuania.
Jens Stoltenberg has led the alliance as its Secretary General since 2014.
"""


@pytest.mark.slow
def test_a_sentence_that_restates_the_question_is_never_the_answer(tmp_path):
    (tmp_path / "articles").mkdir()
    (tmp_path / "articles" / "quiz.md").write_text(QUIZ, encoding="utf-8")
    bot = Assistant(Settings(index_dir=tmp_path / "index"))
    bot.index([tmp_path / "articles"])
    for question, expected in [("Which city hosted the NATO summit in July 2023?", "Vilnius"),
                               ("Who is the Secretary General of NATO?", "Stoltenberg")]:  # fmt: skip
        answer = bot.ask(question)
        assert not answer.abstained and expected in answer.short_answer.text, answer.text
        assert "?" not in answer.citations[0].quote


@pytest.mark.slow
def test_an_unknown_reader_model_is_one_clear_error():
    reader = Reader("/nonexistent/reader-model")
    with pytest.raises(QAError, match="cannot load reader model '/nonexistent/reader-model'"):
        reader.read(
            "Who?", [Document(page_content="Someone.", metadata={"article_id": "a", "start": 0, "chunk_id": "a#0"})]
        )


@pytest.mark.slow
def test_any_hugging_face_question_answering_model_by_path(tmp_path, assistant):
    """QA_READER_MODEL takes a transformers model folder; here the base model with an untrained span head
    (what a download would give is the same code path; no network here)."""
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from qa.embeddings import resolve_model
    from qa.settings import DEFAULT_EMBEDDING_MODEL

    base = resolve_model(DEFAULT_EMBEDDING_MODEL)
    AutoModelForQuestionAnswering.from_pretrained(base).save_pretrained(tmp_path / "hf-reader")
    AutoTokenizer.from_pretrained(base).save_pretrained(tmp_path / "hf-reader")
    bot = Assistant(assistant.settings.model_copy(update={"reader_model": str(tmp_path / "hf-reader")}))
    answer = bot.answerer().invoke(
        {"question": "Who welcomed Kishida?", "documents": bot.retriever().invoke("Who welcomed Kishida?")}
    )
    assert bot.answerer().threshold == 0.0  # no calibration shipped with it
    for c in answer.citations + answer.related:
        assert bot.article(c.article_id).text[c.start : c.end] == c.quote


@pytest.mark.slow
def test_the_shipped_reader_needs_no_pytorch_and_no_network():
    code = ("import sys, socket\n"
            "def no_network(*a, **k): raise OSError('network used')\n"
            "socket.socket.connect = no_network\n"
            "from langchain_core.documents import Document\n"
            "from qa.reader import Reader\n"
            "doc = Document(page_content='The summit was held in Vilnius.', metadata={'article_id': 'a', 'start': 0, 'chunk_id': 'a#0'})\n"
            "print(Reader().read('Where was the summit held?', [doc]).spans[0].text, 'torch' in sys.modules)\n")  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=STUCK)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["Vilnius", "False"]
