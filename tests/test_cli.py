"""The `qa` command as a user runs it: real processes, real index."""

import json
import os
import re
import subprocess
import sys

import pytest

from qa import Answer

from .conftest import ROOT, STUCK


def test_ask_json_prints_exactly_the_answer_model(run):
    result = run("ask", "How long was the North Korean rocket in the air?", "--json")
    assert result.returncode == 0, result.stderr
    answer = Answer.model_validate_json(result.stdout)
    assert "70 minutes" in answer.text and answer.citations[0].quote in answer.text


def test_ask_prints_the_short_answer_with_its_confidence_before_the_quote(run):
    result = run("ask", "How long was the North Korean rocket in the air?")
    assert result.returncode == 0, result.stderr
    first, rest = result.stdout.split("\n", 1)
    assert "70 minutes" in first and "(confidence " in first and len(first) < 60
    assert "70 minutes" in rest and "[1]" in rest


def test_eval_shows_squad_scores_and_misses(run, tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"qid": "a", "question": "How long was the North Korean rocket in the air?", '
                         '"answers": ["more than 70 minutes"]}\n'
                         '{"qid": "b", "question": "Who won the 2022 FIFA World Cup?", "answers": ["Argentina"]}\n')  # fmt: skip
    result = run("eval", str(questions), "--show-misses")
    assert result.returncode == 0, result.stderr
    assert "short answer EM / F1 (SQuAD)" in result.stdout
    misses = result.stdout.split("| qid | question | expected | short answer | answered |")[1]
    assert "| b | Who won the 2022 FIFA World Cup? | Argentina |" in misses and "| a |" not in misses


def test_ask_prints_answer_and_cite_command(run):
    result = run("ask", "Which Japanese envoy said Japan is working toward opening a NATO liaison office?")
    assert result.returncode == 0 and "Koji Tomita" in result.stdout and "qa cite " in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["ask", "  "], "question is empty"),
        (["ask", "x" * 2100], "limit is 2,000"),
        (["cite", "no-such:1-4"], "no article with id"),
        (["cite"], "give a citation id or --quote"),
        (["ask", "q", "--from", "July"], "YYYY-MM-DD"),
        (["ask", "q", "--from", "2023-07-12", "--to", "2023-07-01"], "--from 2023-07-12 is after --to 2023-07-01"),
        (["ask", "q", "--source", "Nobody Times"], "no indexed article matches the filter: source 'Nobody Times'"),
        (["ask", "q", "--article", "no-such-article"], "no indexed article matches the filter: article 'no-such-article'"),
        (["ask"], "Missing argument"),
        (["frobnicate"], "No such command"),
    ],
)
def test_usage_errors_exit_2_with_one_line(run, args, message):
    result = run(*args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "env, message",
    [
        ({"QA_ABSTAIN_THRESHOLD": "nan"}, "invalid setting QA_ABSTAIN_THRESHOLD: Input should be a finite number"),
        ({"QA_CHUNK_OVERLAP": "800"}, "invalid setting: QA_CHUNK_OVERLAP (800) must be smaller than QA_CHUNK_SIZE (700)"),
        ({"QA_TOP_K": "lots"}, "invalid setting QA_TOP_K: Input should be a valid integer, unable to parse string as an integer"),
    ],
)
def test_invalid_settings_are_one_line_naming_the_variable(tmp_path, env, message):
    result = subprocess.run([sys.executable, "-m", "qa.cli", "ask", "Who?"], capture_output=True, text=True,
                            env={**os.environ, "QA_INDEX_DIR": str(tmp_path), **env}, timeout=STUCK)  # fmt: skip
    assert result.returncode == 2 and result.stderr.strip() == f"error: {message}", result.stderr


def test_cite_round_trip_and_quote_search(run):
    answer = Answer.model_validate_json(run("ask", "How many pages of its annual defense report did Japan devote to Taiwan?", "--json").stdout)
    cited = json.loads(run("cite", answer.citations[0].id, "--json").stdout)
    assert cited["quote"] == answer.citations[0].quote
    found = json.loads(run("cite", "--quote", "ten pages of the defense report were about Taiwan", "--json").stdout)
    assert "10 pages" in found[0]["quote"]


def test_index_is_incremental_and_warns_about_bad_files(run, tmp_path):
    (tmp_path / "news").mkdir()
    (tmp_path / "news" / "empty.txt").write_text("")
    (tmp_path / "news" / "ok.md").write_text("The ferry service restarts in May.\n")
    result = run("index", "-q", str(ROOT / "seeds"), str(tmp_path / "news"))
    assert result.returncode == 2  # something was skipped
    assert "1 added" in result.stdout and "2 unchanged" in result.stdout
    assert "skipped" in result.stderr and "empty.txt" in result.stderr and "Traceback" not in result.stderr
    again = run("index", "-q", str(ROOT / "seeds"), str(tmp_path / "news" / "ok.md"))
    assert again.returncode == 0 and "0 sentences embedded" in again.stdout


def test_index_progress_bar_has_a_total_rate_and_eta(run, tmp_path):
    rows = [{"doc_id": f"n{i}", "title": f"Note {i}", "text": f"Ferry number {i} sails on Monday."} for i in range(3)]
    (tmp_path / "news.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = run("index", str(tmp_path / "news.jsonl"))
    assert result.returncode == 0 and "3 added" in result.stdout
    final = result.stderr.replace("\r", "\n").strip().splitlines()[-1]
    # [elapsed<eta, rate]; tqdm shows a rate under 1/s as seconds per article ("1.50s/ articles") on a slow machine
    assert "100%" in final and "3/3" in final and "<" in final, final
    assert re.search(r"\d articles/s|\ds/ articles", final), final


def test_eval_reports_all_metrics(run):
    result = run("eval", str(ROOT / "tests" / "data" / "seed_questions.jsonl"), "--json")
    report = json.loads(result.stdout)
    for key in ("recall_at_k", "mrr", "answer_accuracy", "citation_precision", "abstention_precision",
                "abstention_recall", "latency_p50_ms", "latency_p95_ms"):  # fmt: skip
        assert key in report


def test_eval_names_the_malformed_line(run, tmp_path):
    (tmp_path / "q.jsonl").write_text('{"qid": "1", "question": "ok?"}\nnot json\n')
    result = run("eval", str(tmp_path / "q.jsonl"))
    assert result.returncode == 2 and "q.jsonl:2" in result.stderr


def test_chat_keeps_the_conversation(run):
    result = run("chat", input="Who welcomed Kishida at the NATO summit in Vilnius?\nWhen did they shake hands?\n/new\n\n")
    assert result.returncode == 0
    assert "searched: When did Kishida and Jens Stoltenberg shake hands at the NATO summit in Vilnius?" in " ".join(
        result.stdout.split())
    assert "error: the question is empty" in result.stderr


def test_terminal_control_sequences_in_articles_are_never_printed(run, tmp_path):
    hostile = ("---\ntitle: \"Harbour \\e]0;owned\\a news\"\nsource: Wire\n---\n"
               "The harbour of Klaipeda reopened on Monday\x1b[2J\x1b]8;;http://evil.example\x1b\\ after repairs.\u202e "
               "The ferry to Kiel runs twice a day.\n")  # fmt: skip
    (tmp_path / "hostile").mkdir()
    (tmp_path / "hostile" / "harbour.md").write_text(hostile, encoding="utf-8")
    assert run("index", str(tmp_path / "hostile")).returncode == 0
    answer = run("ask", "When did the harbour of Klaipeda reopen?")
    cited = run("cite", "--quote", "the harbour of Klaipeda reopened")
    for result in (answer, cited):
        assert result.returncode == 0 and "Klaipeda" in result.stdout, result.stderr
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", result.stdout), repr(result.stdout)
