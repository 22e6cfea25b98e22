"""The answer-shapes question set (bench/data/answer-shapes-{dev,test}.jsonl) loads and is well-formed.

Fast: reads the two files and the corpora's text, runs no model. Every answer and list item must occur
verbatim (case-insensitively) in the text of one of its question's evidence articles.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
SPLITS = ("dev", "test")
SHARED_BENCH = ROOT.parent / "shared" / "bench"
CORPORA = {"seeds": ROOT / "seeds", "squad2": SHARED_BENCH / "squad2" / "corpus.jsonl",
           "multihoprag": SHARED_BENCH / "multihoprag" / "corpus.jsonl"}  # fmt: skip
SHAPES = {"fact", "verdict", "list", "followup", "overview", "unanswerable"}
TURN_KEYS = {"question", "answerable", "answers", "verdict", "items", "standalone_must_not", "note"}
OTHER_SETS = [ROOT / "tests" / "data" / "seed_questions.jsonl", ROOT / "tests" / "data" / "conversations.jsonl",
              ROOT / "bench" / "data" / "conversations-heldout.jsonl",
              SHARED_BENCH / "squad2" / "questions.jsonl", SHARED_BENCH / "multihoprag" / "questions.jsonl"]  # fmt: skip
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n.*?\n---[ \t]*\n", re.DOTALL)


def load(split: str) -> list[dict]:
    lines = (DATA / f"answer-shapes-{split}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return [row for split in SPLITS for row in load(split)]


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    """Article id -> text, for every corpus that is present here."""
    found = {}
    for corpus in CORPORA.values():
        if corpus.is_dir():
            found |= {p.stem: _FRONT_MATTER.sub("", p.read_text(encoding="utf-8")) for p in corpus.glob("*.txt")}
        elif corpus.is_file():
            for line in corpus.read_text(encoding="utf-8").splitlines():
                record = json.loads(line)
                found[record["doc_id"]] = record["text"]
    return found


def test_each_file_holds_its_split_and_the_qids_are_unique(rows):
    for split in SPLITS:
        assert load(split) and all(row["split"] == split for row in load(split))
    qids = [row["qid"] for row in rows]
    assert len(qids) == len(set(qids)) and all(re.fullmatch(r"shape-\d{3}", q) for q in qids)
    dev, test = ({row["qid"] for row in load(s)} for s in SPLITS)
    assert not dev & test


def test_the_set_is_large_and_covers_every_shape_and_corpus_in_both_splits(rows):
    assert len(rows) >= 100
    for split in SPLITS:
        assert {row["shape"] for row in rows if row["split"] == split} == SHAPES
        assert {row["corpus"] for row in rows if row["split"] == split} == set(CORPORA)


def test_turns_are_well_formed(rows):
    for row in rows:
        assert row["shape"] in SHAPES and row["corpus"] in CORPORA, row["qid"]
        turns = row["turns"]
        assert turns and (len(turns) >= 2) == (row["shape"] == "followup"), row["qid"]
        for turn in turns:
            assert set(turn) <= TURN_KEYS and turn["question"].strip(), row["qid"]
            assert turn["answerable"] == bool(turn["answers"]), row["qid"]
            if "verdict" in turn:
                assert turn["verdict"] in ("yes", "no", None), row["qid"]
                assert turn["answerable"] == (turn["verdict"] is not None), row["qid"]
            if "items" in turn:
                assert len(turn["items"]) >= 2 and all(item and all(item) for item in turn["items"]), row["qid"]
        last = turns[-1]
        assert (row["shape"] == "verdict") <= ("verdict" in last), row["qid"]
        assert (row["shape"] == "list") == ("items" in last), row["qid"]
        assert (row["shape"] == "unanswerable") == (not last["answerable"] and "verdict" not in last), row["qid"]
        assert bool(row["evidence_doc_ids"]) == any(t["answerable"] for t in turns), row["qid"]


def test_every_answer_and_item_occurs_in_an_evidence_article(rows, texts):
    present = [row for row in rows if all(doc in texts for doc in row["evidence_doc_ids"])]
    if not present:
        pytest.skip("no corpus here")
    assert {row["corpus"] for row in rows if row["corpus"] == "seeds"} <= {row["corpus"] for row in present}
    for row in present:
        evidence = [texts[doc].lower() for doc in row["evidence_doc_ids"]]
        for turn in row["turns"]:
            for phrase in turn["answers"] + [alt for item in turn.get("items", []) for alt in item]:
                assert any(phrase.lower() in text for text in evidence), (row["qid"], phrase)


def test_verdicts_cover_yes_no_and_unsettled(rows):
    expected = [row["turns"][-1]["verdict"] for row in rows if row["shape"] == "verdict"]
    assert expected.count("yes") >= 8 and expected.count("no") >= 8 and expected.count(None) >= 5


def test_no_question_is_copied_from_the_other_sets(rows):
    def norm(text: str) -> str:
        return " ".join(re.sub(r"[^a-z0-9 ]", " ", text.lower()).split())

    others = set()
    for path in (p for p in OTHER_SETS if p.exists()):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            others |= {norm(t["question"]) for t in record.get("turns", [record])}
    mine = [norm(t["question"]) for row in rows for t in row["turns"] if len(t["question"].split()) > 2]
    assert not [q for q in mine if q in others]
