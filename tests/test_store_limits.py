"""Articles that strain the store: one that repeats a sentence thousands of times, and one of 20 MB."""

from __future__ import annotations

import random

import pytest

from qa import Assistant, Settings
from qa.evaluation import evaluate, load_questions

from .conftest import ROOT, SEED_IDS
from .index_checks import assert_index_consistent

SEED_QUESTIONS = ROOT / "tests" / "data" / "seed_questions.jsonl"


def answers(bot: Assistant) -> list[tuple]:
    report = evaluate(bot, load_questions(SEED_QUESTIONS))
    return report.answer_accuracy, [(m.question, m.answered) for m in report.misses]


@pytest.mark.slow
def test_a_sentence_repeated_3000_times_changes_no_seed_answer(assistant, fresh_assistant, tmp_path):
    before = answers(assistant)
    spam = tmp_path / "spam" / "spam.md"
    spam.parent.mkdir()
    sentence = "Officials from NATO and Japan met in Vilnius for talks about security in the region. "
    spam.write_text("---\ntitle: Summit notes\nsource: Spam Wire\n---\n" + sentence * 3000, encoding="utf-8")
    assert fresh_assistant.index([spam.parent]).added == 1

    # The repeats reach the vector index once: one sentence, and the few distinct chunks of copies.
    chunks = [i for page in fresh_assistant.store.chunks_of(["spam"]) for i in page.ids]
    assert 1 <= len(chunks) <= 3, len(chunks)
    sentences = fresh_assistant.store.sentences.get(where={"article_id": "spam"}, include=[])["ids"]
    assert sentences == [f"spam:0-{len(sentence) - 1}"], sentences[:5]
    assert_index_consistent(fresh_assistant.settings.index_dir, [ROOT / "seeds", spam.parent])

    # The spam takes at most one of a question's passages: no answer quotes it, and at most one seed answer
    # changes (the reader reads a window beside other passages; "In what capacity ..." is read so since the
    # quotation-whole sentences changed the first article's chunks).
    after = answers(fresh_assistant)
    assert after[0] >= before[0] - 1.5 / 26, (before, after)
    assert not any("Officials from NATO and Japan met in Vilnius" in answered for _, answered in after[1])
    # Deterministic: the same index and question give the same answer, in a new process's view too.
    assert answers(Assistant(Settings(index_dir=fresh_assistant.settings.index_dir))) == after


@pytest.mark.slow
def test_a_20_mb_article_leaves_every_query_working(fresh_assistant, tmp_path):
    # 20 MB of distinct chunks (sentences drawn from a vocabulary of a few hundred, so embedding stays cheap):
    # Chroma fails on more than about 32,000 ids in one call ("too many SQL variables").
    rng = random.Random(7)
    subjects = ["The council", "A spokesman", "The ministry", "Local farmers", "The harbour office", "Engineers"]
    verbs = ["reported", "denied", "confirmed", "questioned", "announced", "welcomed"]
    objects = [f"plan number {n}" for n in range(60)]
    pool = [f"{s} {v} the {o}." for s in subjects for v in verbs for o in objects]
    words, parts = 0, []
    while words < 20_000_000:
        part = " ".join(rng.choice(pool) for _ in range(6))
        parts.append(part)
        words += len(part) + 2
    big = tmp_path / "big" / "ledger.md"
    big.parent.mkdir()
    big.write_text("---\ntitle: Ledger\nsource: Big Wire\n---\n" + "\n\n".join(parts), encoding="utf-8")
    fresh_assistant.ask("Who did Kishida meet in Vilnius?")  # the BM25 cache exists before the big add

    report = fresh_assistant.index([big.parent])
    assert report.added == 1
    assert fresh_assistant.status().chunks > 32_000
    answer = fresh_assistant.ask("Who did Kishida meet in Vilnius?")
    assert any(c.article_id == SEED_IDS[0] for c in answer.citations)
    found = fresh_assistant.find(answer.citations[0].quote, k=1)
    assert found[0].quote == answer.citations[0].quote
    assert fresh_assistant.ask("What did the harbour office announce?").citations
    # Deleting it deletes more than 32,000 chunks at once.
    big.unlink()
    assert fresh_assistant.index([ROOT / "seeds"], prune=True).removed == 1
    assert fresh_assistant.status().articles == 2
