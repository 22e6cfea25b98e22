"""A real Chroma server (`chroma run`): index, answer, survive a restart, and fail clearly when it is down."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa import Assistant, Settings, StoreUnavailable
from qa.store import HNSW

from .conftest import SEED_IDS, SEEDS, ChromaServer

QUESTION = "How long was the North Korean rocket in the air?"


def server_assistant(server: ChromaServer, tmp_path: Path) -> Assistant:
    # index_dir points at a folder that must stay unused: everything goes to the server.
    return Assistant(Settings(chroma_url=server.url, index_dir=tmp_path / "unused-index"))


@pytest.mark.slow
def test_index_answer_and_cite_survive_a_server_restart(chroma_server, tmp_path):
    bot = server_assistant(chroma_server, tmp_path)
    first = bot.index([SEEDS])
    assert first.added == 2 and first.sentences_embedded > 0
    answer = bot.ask(QUESTION)
    assert "70 minutes" in answer.text and answer.citations
    cited = answer.citations[0]
    passage = bot.lookup(cited.id)
    assert passage.quote == cited.quote and passage.article_id in SEED_IDS
    status = bot.status()
    assert status.articles == 2 and status.chunks > 0 and status.location == chroma_server.url
    for collection in (bot.store.chunks, bot.store.sentences):  # the server searches its graphs
        hnsw = collection.configuration["hnsw"]
        assert {k: hnsw[k] for k in HNSW} == HNSW  # chosen by bench/hnsw.py

    chroma_server.restart()

    again_bot = server_assistant(chroma_server, tmp_path)
    assert again_bot.status().model_dump() == status.model_dump()
    again = again_bot.ask(QUESTION)
    assert again.text == answer.text
    assert [c.id for c in again.citations] == [c.id for c in answer.citations]
    assert again_bot.lookup(cited.id) == passage
    report = again_bot.index([SEEDS])
    assert (report.sentences_embedded, report.unchanged, report.added, report.updated) == (0, 2, 0, 0)
    assert not (tmp_path / "unused-index").exists(), "the embedded store was used instead of the server"

    # The Assistant from before the restart reconnects by itself.
    assert bot.ask(QUESTION).text == answer.text

    chroma_server.stop()
    with pytest.raises(StoreUnavailable) as err:
        server_assistant(chroma_server, tmp_path).status()
    message = str(err.value)
    assert "\n" not in message
    assert f"cannot reach the Chroma server at {chroma_server.url}" in message
    # Assistants that were connected get the same kind of one-line error, not an httpx traceback.
    for connected in (bot, again_bot):
        with pytest.raises(StoreUnavailable, match=f"lost the Chroma server at {chroma_server.url}") as err:
            connected.ask(QUESTION)
        assert "\n" not in str(err.value)
    with pytest.raises(StoreUnavailable, match="lost the Chroma server"):
        again_bot.index([SEEDS])


def test_cli_against_a_dead_port_is_one_line_exit_2(qa_command, refused_port):
    url = f"http://127.0.0.1:{refused_port}"  # nothing listens there
    result = qa_command("--chroma-url", url, "ask", "x")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach the Chroma server"), result.stderr
