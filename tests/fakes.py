"""Stand-ins for the embedding model, for the fast tier (`pytest -m "not slow"`).

Only for tests whose subject is not the model: how the index is stored, updated, listed, locked, salvaged and
reported, and the edges of the command and the page. Mark such a test ``@pytest.mark.hashed_embedder``
(tests/conftest.py): every Assistant it makes embeds with HashedWordsEmbedder, and ``seed_index``,
``assistant``, ``fresh_assistant``, ``app`` and ``run_in_process`` are over the seeds indexed that way. Tests of
answers, retrieval quality, the verifier and the reader keep the real models (and are marked slow where slow).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np

from qa import Assistant, Settings
from qa.embeddings import Embedder

# The name the hashed-words indexes are built under. The store keeps the model name and refuses an index built
# with another one, so a hashed index is never searched with the real model (or a real one with hashed words);
# and a real Embedder asked to load this name fails loudly instead of quietly giving other vectors.
HASHED_WORDS_MODEL = "tests-hashed-words"
_WORD = re.compile(r"\w+")


class HashedWordsEmbedder(Embedder):
    """Stands in for all-MiniLM-L6-v2 where the model is not under test: a bag of words hashed into 384
    dimensions, unit length. Deterministic, loads nothing, and texts that share words are close, which is all
    that storing, updating, listing and filtering an index need. It never stands in for answer quality."""

    DIMENSIONS = 384

    def __init__(self, model: str = HASHED_WORDS_MODEL, batch_size: int = 8, cache_dir: Path | None = None) -> None:
        super().__init__(model, batch_size, cache_dir=None)  # no ONNX export: there is no model to export

    @property
    def backend(self):
        return self

    def encode(self, texts: list[str], batch_size: int | None = None, between_batches=None) -> np.ndarray:
        vectors = np.zeros((len(texts), self.DIMENSIONS), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
                vectors[row, int.from_bytes(digest, "little") % self.DIMENSIONS] += 1.0
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


def embedder_for(model: str, batch_size: int = 8, cache_dir: Path | None = None) -> Embedder:
    """Takes the place of ``qa.api.Embedder`` in a test marked ``hashed_embedder``: hashed words for
    HASHED_WORDS_MODEL, the real model for any other name (so nothing else changes under the test)."""
    if model == HASHED_WORDS_MODEL:
        return HashedWordsEmbedder(model, batch_size, cache_dir)
    return Embedder(model, batch_size, cache_dir)


def build_hashed_index(index_dir: Path, paths: list[Path]) -> Path:
    """An index of ``paths`` embedded with hashed words, under HASHED_WORDS_MODEL's name."""
    bot = Assistant(Settings(index_dir=index_dir, embedding_model=HASHED_WORDS_MODEL))
    bot._embedder = HashedWordsEmbedder()  # the seam Assistant fills on first use
    bot.index(paths)
    return index_dir
