from hypothesis import given, settings
from hypothesis import strategies as st

from qa.articles import Article
from qa.chunking import chunk_article, split_sentences


def test_abbreviations_do_not_end_sentences():
    text = "Mr. Kishida met Dr. Smith in the U.S. capital. He left on Jan. 31. Then J. Biden spoke."
    sentences = [text[s:e] for s, e in split_sentences(text)]
    assert sentences == ["Mr. Kishida met Dr. Smith in the U.S. capital.", "He left on Jan. 31.", "Then J. Biden spoke."]


def test_chunks_have_overlap_and_stable_ids():
    text = " ".join(f"Sentence number {i} talks about topic {i}." for i in range(40))
    article = Article(id="a", text=text)
    chunks = chunk_article(article, size=200, overlap=60)
    assert len(chunks) > 3
    for before, after in zip(chunks, chunks[1:]):
        assert after.start < before.end, "consecutive chunks share a sentence"
        assert after.start > before.start, "chunking always moves forward"
    assert [c.id for c in chunks] == [c.id for c in chunk_article(Article(id="a", text=text), size=200, overlap=60)]
    assert all(c.id.startswith("a#") for c in chunks)


def test_changed_text_changes_only_later_ids():
    text = " ".join(f"Sentence number {i} talks about topic {i}." for i in range(40))
    old = chunk_article(Article(id="a", text=text), size=200, overlap=60)
    new = chunk_article(Article(id="a", text=text + " One more sentence."), size=200, overlap=60)
    assert old[0].id == new[0].id and old[-1].id != new[-1].id


@settings(max_examples=200, deadline=None)
# Lone surrogates cannot occur: every article is decoded from UTF-8.
@given(st.text(alphabet=st.sampled_from(list("ab .!?\n\"'MrJ”")) | st.characters(exclude_categories=("Cs",)), min_size=1, max_size=1500),
       st.integers(100, 600), st.integers(0, 99))
def test_chunks_cover_the_text_with_exact_offsets(text, size, overlap):
    article = Article(id="p", text=text)
    chunks = chunk_article(article, size=size, overlap=overlap)
    for c in chunks:
        assert text[c.start : c.end] == c.text
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
    for s, e in split_sentences(text):
        assert 0 <= s < e <= len(text) and text[s:e] == text[s:e].strip()
