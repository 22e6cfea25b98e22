"""Narrow error handling: only the errors that mean a damaged or unavailable store, or a failed chat model,
become one-line qa errors; a bug (a TypeError, say) surfaces as itself, and KeyboardInterrupt is never caught.
Every setting's bounds are declared in Settings, and a value outside them is one line with exit 2."""

from __future__ import annotations

import sqlite3

import chromadb.errors
import httpx
import openai
import pytest

from qa import Assistant, Settings
from qa.errors import IndexCorrupt, LLMError, UsageError
from qa.integrity import REMEDY, is_store_failure, rust_panics
from qa.llm import llm_error, model_errors, provider_errors
from qa.settings import load_settings
from qa.verification import Verifier

from .conftest import STUCK

ROCKET = "How long was the North Korean rocket in the air?"


# --- the store ------------------------------------------------------------------------------------------------


@pytest.fixture
def bot(seed_index):
    bot = Assistant(Settings(index_dir=seed_index))
    bot.status()  # opens the store's collections
    return bot


def break_records_get(bot, monkeypatch, error: BaseException) -> None:
    """Make the Chroma collection of article records raise ``error`` on every read (the injected failure is the
    point of the test; the store around it is real)."""

    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(bot.store._collections["records"], "get", broken)


@pytest.mark.hashed_embedder
@pytest.mark.parametrize("bug", [TypeError("a bug, not damage"), AttributeError("'NoneType' has no attribute 'x'"),
                                 chromadb.errors.InvalidArgumentError("ids must be strings"),
                                 sqlite3.ProgrammingError("Incorrect number of bindings supplied")])  # fmt: skip
def test_a_bug_inside_a_store_read_surfaces_as_itself(bot, monkeypatch, bug):
    break_records_get(bot, monkeypatch, bug)
    with pytest.raises(type(bug), match=str(bug)[:20]):
        bot.article("anything")


@pytest.mark.hashed_embedder
def test_keyboard_interrupt_in_a_store_read_passes_through(bot, monkeypatch):
    break_records_get(bot, monkeypatch, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        bot.article("anything")


@pytest.mark.hashed_embedder
def test_a_rust_panic_in_a_store_read_is_one_line_naming_the_rebuild(bot, monkeypatch):
    # pyo3 makes this very class on an extension's first panic (PyErr_NewException("pyo3_runtime.PanicException",
    # BaseException)); no Chroma call can be made to panic on purpose, so the class is made here the same way.
    panic = type("PanicException", (BaseException,), {"__module__": "pyo3_runtime"})
    assert panic in rust_panics()
    break_records_get(bot, monkeypatch, panic("called `Option::unwrap()` on a `None` value"))
    with pytest.raises(IndexCorrupt) as caught:
        bot.article("anything")
    assert REMEDY in str(caught.value) and "\n" not in str(caught.value)


DAMAGE = [chromadb.errors.InternalError("error returned from database: disk I/O error"),
          sqlite3.DatabaseError("database disk image is malformed"), OSError(5, "Input/output error")]  # fmt: skip


@pytest.mark.parametrize("error", DAMAGE)
def test_damage_and_unavailability_are_store_failures(error):
    assert is_store_failure(error)


@pytest.mark.parametrize("error", [TypeError("x"), ValueError("x"), KeyError("x"), KeyboardInterrupt(), SystemExit(1),
                                   chromadb.errors.InvalidArgumentError("x"), chromadb.errors.DuplicateIDError("x"),
                                   sqlite3.ProgrammingError("x"), sqlite3.InterfaceError("x")])  # fmt: skip
def test_bugs_and_interrupts_are_not_store_failures(error):
    assert not is_store_failure(error)


# --- the chat model -------------------------------------------------------------------------------------------

REQUEST = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")


def status_error(kind, status: int):
    import httpx2  # openai's client is built on this fork of httpx, and its errors carry its responses

    request = httpx2.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    return kind(f"Error code: {status}\nmore detail", response=httpx2.Response(status, request=request), body=None)


def provider_cases():
    import httpx2
    import ollama

    request2 = httpx2.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    return [
        (openai.APITimeoutError(request=request2), "did not answer within 7 s"),
        (httpx.ReadTimeout("timed out", request=REQUEST), "did not answer within 7 s"),
        (openai.APIConnectionError(request=request2), "cannot reach the chat model at http://127.0.0.1:9/v1"),
        (httpx.ConnectError("[Errno 111] Connection refused", request=REQUEST), "cannot reach the chat model"),
        (status_error(openai.AuthenticationError, 401), "refused the API key"),
        (status_error(openai.RateLimitError, 429), "rate-limiting requests"),
        (status_error(openai.NotFoundError, 404), "the chat model 'smollm2' was not found"),
        (status_error(openai.InternalServerError, 500), "failed (HTTP 500: Error code: 500)"),
        (ollama.ResponseError('model "smollm2" not found, try pulling it first', 404), "'smollm2' was not found"),
        (ConnectionError("Failed to connect to Ollama."), "cannot reach the chat model"),  # how ollama reports it
        (ollama.ResponseError("unauthorized", 401), "refused the API key"),
        (ollama.ResponseError("out of memory", 500), "failed (HTTP 500: out of memory)"),
    ]


@pytest.mark.parametrize("error, message", provider_cases(), ids=lambda case: type(case).__name__)
def test_each_provider_error_is_a_one_line_llm_error(error, message):
    settings = Settings(llm_provider="openai", llm_base_url="http://127.0.0.1:9/v1", llm_model="smollm2",
                        llm_timeout=7, llm_api_key="sk-secret-value")  # fmt: skip
    assert isinstance(error, provider_errors())
    with pytest.raises(LLMError) as caught, model_errors(settings):
        raise error
    text = str(caught.value)
    assert message in text and "\n" not in text and "sk-secret-value" not in text
    assert caught.value.__cause__ is error
    assert llm_error(error, settings).args == caught.value.args


@pytest.mark.parametrize("bug", [TypeError("401 Unauthorized"), ValueError("Timeout while parsing"), KeyError("x")])
def test_other_errors_in_a_model_call_propagate_whatever_their_text(bug):
    with pytest.raises(type(bug)), model_errors(Settings()):
        raise bug


@pytest.fixture(scope="module")
def llm_server():
    from qa.llm import LocalLlamaServer, smollm2_path

    return LocalLlamaServer(smollm2_path())


@pytest.mark.slow
def test_a_bug_in_the_verifier_is_not_the_chat_models_failure(seed_index, llm_server, monkeypatch):
    # The chat model is real (llama.cpp serving SmolLM2 on 127.0.0.1); the bug is injected into our verifier.
    def broken(self, generated, docs):
        raise TypeError("a bug in the verifier")

    monkeypatch.setattr(Verifier, "verify", broken)
    settings = Settings(index_dir=seed_index, llm_provider="openai", llm_base_url=llm_server.url, llm_model="smollm2",
                        llm_api_key="unused", top_k=2, llm_max_tokens=60, llm_timeout=STUCK)  # fmt: skip
    with pytest.raises(TypeError, match="a bug in the verifier"):
        Assistant(settings).ask(ROCKET)


# --- settings -------------------------------------------------------------------------------------------------

OUT_OF_RANGE = {"support_similarity": 7, "top_k": 0, "rrf_k": 10**6, "llm_timeout": float("inf"), "lock_timeout": -1,
                "max_question_chars": 10**9, "max_upload_mb": 0, "chunk_size": 50, "min_confidence": 1.5,
                "reader_max_tokens": 4096, "ui_port": 70000, "abstain_threshold": float("nan")}  # fmt: skip


@pytest.mark.parametrize("field, value", OUT_OF_RANGE.items())
def test_an_out_of_range_setting_is_one_line(field, value):
    with pytest.raises(UsageError) as caught:
        load_settings(**{field: value})
    assert f"QA_{field.upper()}" in str(caught.value) and "\n" not in str(caught.value)


def test_an_out_of_range_setting_in_the_environment_exits_2_in_one_line(qa_command):
    result = qa_command("ask", ROCKET, env={"QA_SUPPORT_SIMILARITY": "7"})
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: invalid setting QA_SUPPORT_SIMILARITY: Input should be less than 1"
    ]
