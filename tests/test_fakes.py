"""The stand-in for the embedding model in the fast tier (tests/fakes.py) and how tests get it."""

from __future__ import annotations

import numpy as np
import pytest

from qa import Assistant, IndexCorrupt, Settings
from qa.embeddings import Embedder

from .fakes import HASHED_WORDS_MODEL, HashedWordsEmbedder


def test_hashed_words_are_unit_vectors_the_same_every_time_and_closer_for_shared_words():
    embedder = HashedWordsEmbedder()
    texts = ["The ferry to Kiel runs twice a day.", "Twice a day the ferry runs to Kiel!", "NATO met in Vilnius."]
    vectors = embedder.encode(texts)
    assert vectors.shape == (3, HashedWordsEmbedder.DIMENSIONS) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert np.array_equal(vectors, HashedWordsEmbedder().encode(texts))  # no state, no randomness
    assert vectors[0] @ vectors[1] == pytest.approx(1.0) and vectors[0] @ vectors[2] < 0.5
    assert embedder.embed_query(texts[0]) == pytest.approx(vectors[0].tolist(), abs=1e-6)  # LangChain's methods


@pytest.mark.hashed_embedder
def test_under_the_marker_every_assistant_of_the_test_embeds_hashed_words(tmp_path):
    bot = Assistant(Settings(index_dir=tmp_path / "index"))  # as a test or the code under test would make one
    assert bot.settings.embedding_model == HASHED_WORDS_MODEL
    assert isinstance(bot.embedder, HashedWordsEmbedder)


def test_without_the_marker_the_model_is_the_real_one(tmp_path):
    embedder = Assistant(Settings(index_dir=tmp_path / "index")).embedder  # made, not loaded: that is lazy
    assert type(embedder) is Embedder and embedder.model_name != HASHED_WORDS_MODEL


def test_an_index_of_hashed_words_is_never_searched_with_the_real_model(hashed_seed_index):
    with pytest.raises(IndexCorrupt, match=f"built with embedding model '{HASHED_WORDS_MODEL}'"):
        Assistant(Settings(index_dir=hashed_seed_index)).status()
