"""Shared by the benchmarks: the question sets and an Assistant with each set's corpus indexed."""

from __future__ import annotations

import os
import re
from pathlib import Path

from qa import Assistant, Settings
from qa.evaluation import Question, load_questions

ROOT = Path(__file__).resolve().parent.parent
SHARED_BENCH = ROOT.parent / "shared" / "bench"
SETS = {
    "seeds": (ROOT / "seeds", ROOT / "tests" / "data" / "seed_questions.jsonl"),
    "squad2": (SHARED_BENCH / "squad2" / "corpus.jsonl", SHARED_BENCH / "squad2" / "questions.jsonl"),
    "multihoprag": (SHARED_BENCH / "multihoprag" / "corpus.jsonl", SHARED_BENCH / "multihoprag" / "questions.jsonl"),
}


def cpu_description() -> str:
    """The CPU, its widest vector instructions and its cores, on which the int8 reader's speed depends."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return f"{os.cpu_count()} cores"
    name = re.search(r"^model name\s*:\s*(.+)$", info, re.MULTILINE)
    flag_line = re.search(r"^flags\s*:\s*(.+)$", info, re.MULTILINE)
    flags = set(flag_line.group(1).split()) if flag_line else set()
    vector = next((label for flag, label in (("avx512_vnni", "AVX-512 VNNI"), ("avx512f", "AVX-512"), ("avx2", "AVX2"))
                   if flag in flags), "no AVX2")  # fmt: skip
    return f"{name.group(1).strip() if name else 'unknown CPU'}, {vector}, {os.cpu_count()} cores"


def load_set(name: str) -> tuple[Path, list[Question]]:
    corpus, questions = SETS[name]
    return corpus, load_questions(questions)


def assistant_for(name: str, corpus: Path, work: Path, **settings) -> Assistant:
    """An Assistant over ``corpus`` in its own collection under ``work`` (indexed incrementally)."""
    collection = re.sub(r"[^A-Za-z0-9-]", "-", f"bench-{name}")
    assistant = Assistant(Settings(index_dir=work / "index", collection=collection, **settings))
    assistant.index([corpus], prune=True)
    return assistant
