"""The `qa` command as a user runs it: real processes, real index."""

import json
import os
import re
import subprocess
import sys

import pytest

from qa import Answer

from .conftest import ROOT, STUCK

# Every test here but those taking qa_command (tests/conftest.py) starts processes that load the models: slow.


@pytest.mark.slow
def test_ask_json_prints_exactly_the_answer_model(run):
    result = run("ask", "How long was the North Korean rocket in the air?", "--json")
    assert result.returncode == 0, result.stderr
    answer = Answer.model_validate_json(result.stdout)
    assert "70 minutes" in answer.text and answer.citations[0].quote in answer.text


@pytest.mark.slow
def test_ask_prints_the_short_answer_with_its_confidence_before_the_quote(run):
    result = run("ask", "How long was the North Korean rocket in the air?")
    assert result.returncode == 0, result.stderr
    first, rest = result.stdout.split("\n", 1)
    assert "70 minutes" in first and "(confidence " in first and len(first) < 60
    assert "70 minutes" in rest and "[1]" in rest


@pytest.mark.slow
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


@pytest.mark.slow
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
        (
            ["ask", "q", "--article", "no-such-article"],
            "no indexed article matches the filter: article 'no-such-article'",
        ),
        (["ask"], "Missing argument"),
        (["frobnicate"], "No such command"),
    ],
)
def test_usage_errors_exit_2_with_one_line(qa_command, args, message):
    result = qa_command(*args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "env, message",
    [
        ({"QA_ABSTAIN_THRESHOLD": "nan"}, "invalid setting QA_ABSTAIN_THRESHOLD: Input should be a finite number"),
        (
            {"QA_CHUNK_OVERLAP": "800"},
            "invalid setting: QA_CHUNK_OVERLAP (800) must be smaller than QA_CHUNK_SIZE (700)",
        ),
        (
            {"QA_TOP_K": "lots"},
            "invalid setting QA_TOP_K: Input should be a valid integer, unable to parse string as an integer",
        ),
    ],
)
def test_invalid_settings_are_one_line_naming_the_variable(qa_command, env, message):
    result = qa_command("ask", "Who?", env=env)
    assert result.returncode == 2 and result.stderr.strip() == f"error: {message}", result.stderr


@pytest.mark.slow
def test_cite_round_trip_and_quote_search(run):
    answer = Answer.model_validate_json(
        run("ask", "How many pages of its annual defense report did Japan devote to Taiwan?", "--json").stdout
    )
    cited = json.loads(run("cite", answer.citations[0].id, "--json").stdout)
    assert cited["quote"] == answer.citations[0].quote
    found = json.loads(run("cite", "--quote", "ten pages of the defense report were about Taiwan", "--json").stdout)
    assert "10 pages" in found[0]["quote"]


@pytest.mark.slow
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


@pytest.mark.slow
def test_index_progress_bar_has_a_total_rate_and_eta(run, tmp_path):
    rows = [{"doc_id": f"n{i}", "title": f"Note {i}", "text": f"Ferry number {i} sails on Monday."} for i in range(3)]
    (tmp_path / "news.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = run("index", str(tmp_path / "news.jsonl"))
    assert result.returncode == 0 and "3 added" in result.stdout
    final = result.stderr.replace("\r", "\n").strip().splitlines()[-1]
    # [elapsed<eta, rate]; tqdm shows a rate under 1/s as seconds per article ("1.50s/ articles") on a slow machine
    assert "100%" in final and "3/3" in final and "<" in final, final
    assert re.search(r"\d articles/s|\ds/ articles", final), final


@pytest.mark.slow
def test_eval_reports_all_metrics(run):
    result = run("eval", str(ROOT / "tests" / "data" / "seed_questions.jsonl"), "--json")
    report = json.loads(result.stdout)
    for key in ("recall_at_k", "mrr", "answer_accuracy", "citation_precision", "abstention_precision",
                "abstention_recall", "latency_p50_ms", "latency_p95_ms"):  # fmt: skip
        assert key in report


@pytest.mark.slow
def test_eval_names_the_malformed_line(run, tmp_path):
    (tmp_path / "q.jsonl").write_text('{"qid": "1", "question": "ok?"}\nnot json\n')
    result = run("eval", str(tmp_path / "q.jsonl"))
    assert result.returncode == 2 and "q.jsonl:2" in result.stderr


@pytest.mark.slow
def test_chat_keeps_the_conversation(run):
    result = run(
        "chat", input="Who welcomed Kishida at the NATO summit in Vilnius?\nWhen did they shake hands?\n/new\n\n"
    )
    assert result.returncode == 0
    assert "searched: When did Kishida and Jens Stoltenberg shake hands at the NATO summit in Vilnius?" in " ".join(
        result.stdout.split()
    )
    assert "error: the question is empty" in result.stderr


@pytest.mark.slow
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
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", result.stdout), repr(
            result.stdout
        )


# --- the library: qa list, qa remove, qa cite of a removed article -------------------------------------------

SEED_IDS = ("000_f84ba1bb2755896e", "001_eef8d75a3c5cf43f")
ROCKET = "How long was the North Korean rocket in the air?"  # only the first seed article answers it


@pytest.mark.slow
def test_list_prints_a_table_and_json(run):
    table = run("list")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["id", "date", "publisher", "passages", "title"]
    assert lines[1].startswith(SEED_IDS[0]) and "2023-07-12" in lines[1] and "JAPAN Forward" in lines[1]
    assert lines[-1] == "2 articles match; shown: 1-2"
    page = json.loads(run("list", "--json", "--search", "epoch times").stdout)
    assert page["total"] == 1 and page["items"][0]["id"] == SEED_IDS[1] and page["items"][0]["chunks"] > 0
    assert json.loads(run("list", "--json", "--source", "JAPAN Forward", "--from", "2023-07-12").stdout)["total"] == 1
    assert run("list", "--search", "no such words").stdout.strip() == "0 articles match; shown: none"


@pytest.mark.slow
def test_remove_then_cite_says_it_was_removed(run):
    cited = Answer.model_validate_json(run("ask", ROCKET, "--json").stdout).citations[0]
    assert cited.article_id == SEED_IDS[0]
    refused = run("remove", SEED_IDS[0])  # no terminal, no --yes
    assert refused.returncode == 2 and refused.stderr.strip().startswith("error: ") and "--yes" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and json.loads(run("list", "--json").stdout)["total"] == 2

    removed = run("remove", SEED_IDS[0], "no-such-article", "--yes")
    assert removed.returncode == 2
    assert removed.stdout.startswith(f"removed {SEED_IDS[0]} (Kishida welcomed by NATO")
    assert removed.stderr.strip() == "error: no article with id 'no-such-article' in the index"
    assert json.loads(run("list", "--json").stdout)["total"] == 1

    cite = run("cite", cited.id)
    assert cite.returncode == 2 and len(cite.stderr.strip().splitlines()) == 1
    assert re.fullmatch(rf"error: article '{SEED_IDS[0]}' \(\"Kishida welcomed by NATO Secretary General Stoltenberg at "
                        r"the Vilnius summit\"\) was removed from the index on \d{4}-\d\d-\d\d", cite.stderr.strip())  # fmt: skip
    again = run("remove", SEED_IDS[0], "--yes")
    assert again.returncode == 2 and "was already removed from the index on" in again.stderr
    answer = Answer.model_validate_json(run("ask", ROCKET, "--json").stdout)
    assert SEED_IDS[0] not in {c.article_id for c in answer.citations}


@pytest.mark.slow
def test_quotes_wrap_at_word_boundaries_to_the_terminal_width(run, tmp_path):
    quote = Answer.model_validate_json(run("ask", ROCKET, "--json").stdout).citations[0].quote
    result = subprocess.run([sys.executable, "-m", "qa.cli", "ask", ROCKET], capture_output=True, text=True,
                            env={**os.environ, "QA_INDEX_DIR": str(tmp_path / "index"), "COLUMNS": "40"},
                            timeout=STUCK, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    quoted = lines[next(n for n, line in enumerate(lines) if line.startswith('    "')) :]
    quoted = quoted[: next(n for n, line in enumerate(quoted) if "qa cite" in line)]
    assert len(quoted) > 1 and all(len(line) < 40 for line in quoted), quoted
    words = set(quote.split()) | {f'"{w}' for w in quote.split()} | {f'{w}"' for w in quote.split()}
    assert all(w in words for line in quoted for w in line.split()), quoted  # no word cut in two


@pytest.mark.slow
def test_chat_on_a_terminal_recalls_questions_with_the_arrow_keys(run, tmp_path):
    """A real pseudo-terminal: Up recalls the last question (readline), and the history is kept in the home folder."""
    import pty
    import select

    controller, terminal = pty.openpty()
    env = {**os.environ, "QA_INDEX_DIR": str(tmp_path / "index"), "HOME": str(tmp_path), "TERM": "xterm"}
    proc = subprocess.Popen([sys.executable, "-m", "qa.cli", "chat"], stdin=terminal, stdout=terminal, stderr=terminal,
                            env=env, close_fds=True)  # fmt: skip
    os.close(terminal)
    seen = bytearray()

    def read_until(text: bytes, count: int = 1) -> None:
        from .conftest import wait_until

        def arrived():
            while select.select([controller], [], [], 0.05)[0]:
                try:
                    seen.extend(os.read(controller, 65536))
                except OSError:
                    break
            return seen.count(text) >= count

        wait_until(arrived, f"{text!r} x{count} in the chat's output: {bytes(seen[-2000:])!r}")

    try:
        read_until(b"you> ")
        os.write(controller, ROCKET.encode() + b"\r")
        read_until(b"70 minutes", 2)  # the short answer and the quote
        read_until(b"you> ", 2)
        os.write(controller, b"\x1b[A\r")  # Up, Enter: the same question again
        read_until(b"70 minutes", 4)
        read_until(b"you> ", 3)
        os.write(controller, b"\x04")  # Ctrl-D
        assert proc.wait(timeout=STUCK) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(controller)
    assert b"^[[A" not in seen
    assert (tmp_path / ".article-qa-history").read_text().splitlines()[-1] == ROCKET


@pytest.mark.slow
@pytest.mark.parametrize("reply, removed", [(b"n", False), (b"y", True)])
def test_remove_on_a_terminal_asks_first(run, tmp_path, reply, removed):
    import pty

    controller, terminal = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "qa.cli", "remove", SEED_IDS[1]], stdin=terminal, stdout=terminal,
                            stderr=terminal, env={**os.environ, "QA_INDEX_DIR": str(tmp_path / "index")})  # fmt: skip
    os.close(terminal)
    seen = b""
    try:
        while b"[y/N]" not in seen:
            chunk = os.read(controller, 4096)
            assert chunk, seen
            seen += chunk
        assert b"Japanese Prime Minister Expected" in seen  # what would be removed, before the question
        os.write(controller, reply + b"\r")
        code = proc.wait(timeout=STUCK)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(controller)
    assert code == (0 if removed else 1)
    assert json.loads(run("list", "--json").stdout)["total"] == (1 if removed else 2)
