import doctest

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa import chunking
from qa.articles import Article
from qa.chunking import chunk_article, sentence_spans, split_sentences
from qa.text import sentences


def test_abbreviations_do_not_end_sentences():
    text = "Mr. Kishida met Dr. Smith in the U.S. capital. He left on Jan. 31. Then J. Biden spoke."
    sentences = [text[s:e] for s, e in split_sentences(text)]
    assert sentences == [
        "Mr. Kishida met Dr. Smith in the U.S. capital.",
        "He left on Jan. 31.",
        "Then J. Biden spoke.",
    ]


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
@given(
    st.text(
        alphabet=st.sampled_from(list("ab .!?\n\"'MrJ“”(’")) | st.characters(exclude_categories=("Cs",)),
        min_size=1,
        max_size=1500,
    ),
    st.integers(100, 600),
    st.integers(0, 99),
)
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


def _sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def test_module_doctests_pass():
    assert doctest.testmod(chunking).failed == 0
    assert doctest.testmod(sentences).failed == 0  # split_sentences' examples live with it in qa.text


@pytest.mark.parametrize("open_mark, close_mark", [('"', '"'), ("“", "”")])
def test_a_quotation_is_one_sentence(open_mark, close_mark):
    """Issue 31: the answer quote was half a quotation, and the next sentence started inside it."""
    text = (f"In response, Mr Stoltenbeg said: {open_mark}We highly value the partnership with Japan. "
            f"No other partner is closer to NATO than Japan.{close_mark} Then he left.")  # fmt: skip
    quotation = (f"In response, Mr Stoltenbeg said: {open_mark}We highly value the partnership with Japan. "
                 f"No other partner is closer to NATO than Japan.{close_mark}")  # fmt: skip
    assert _sentences(text) == [quotation, "Then he left."]


@pytest.mark.parametrize("open_mark, close_mark", [('"', '"'), ("“", "”")])
def test_a_quotation_of_three_sentences_that_opens_a_sentence(open_mark, close_mark):
    text = (f"NATO met. {open_mark}We value Japan. It is our closest partner! Is it not?{close_mark} he asked. "
            f"Mr Kishida nodded.")  # fmt: skip
    assert _sentences(text) == [
        "NATO met.",
        f"{open_mark}We value Japan. It is our closest partner! Is it not?{close_mark} he asked.",
        "Mr Kishida nodded.",
    ]


def test_two_quotations_in_a_row_stay_two_sentences():
    text = '"Stop. Now." "Go on. Please," he said.'
    assert _sentences(text) == ['"Stop. Now."', '"Go on. Please," he said.']


@pytest.mark.parametrize("open_mark, close_mark", [('"', '"'), ("“", "”")])
def test_a_quotation_that_does_not_close_in_its_paragraph_keeps_the_sentence_ends(open_mark, close_mark):
    # News style: a quotation over several paragraphs opens each one and closes only the last.
    first = f"He said: {open_mark}We value Japan. It is our closest partner."
    second = f"{open_mark}It stands with us. It always has,{close_mark} he added. Then he left."
    assert _sentences(first + "\n\n" + second) == [
        f"He said: {open_mark}We value Japan.",
        "It is our closest partner.",
        f"{open_mark}It stands with us. It always has,{close_mark} he added.",
        "Then he left.",
    ]


def test_a_stray_mark_leaves_its_paragraph_as_before():
    stray = 'The pipe is 6" wide. He said: "We value Japan. It is close." Then he left.'
    assert _sentences(stray) == ['The pipe is 6" wide.', 'He said: "We value Japan.', 'It is close."', "Then he left."]
    assert _sentences('A lone " mark. Then "we go. Now." He left.') == \
        ['A lone " mark.', 'Then "we go.', 'Now."', "He left."]  # fmt: skip
    # ... and only its paragraph
    assert _sentences(stray + '\nHe said: "Yes. Right." Fine.')[-2:] == ['He said: "Yes. Right."', "Fine."]
    assert _sentences("“We value Japan.” It is close.” He left.") == ["“We value Japan.”", "It is close.”", "He left."]


@pytest.mark.parametrize("text", [
    "Japan's leader said: \"It's Japan's day. We're ready.\" Then he left. The PM's aides didn't.",
    "Japan’s leader said: “It’s Japan’s day. We’re ready.” Then he left. The PM’s aides didn’t.",
    "Japan's leader said: 'It is a day. We are ready.' Then he left. The PM's aides didn't.",
])  # fmt: skip
def test_apostrophes_are_not_quotation_marks(text):
    sentences = _sentences(text)
    assert sentences[-2:] == ["Then he left.", text.split("left. ")[1]]
    if "'It" not in text:
        assert len(sentences) == 3


def test_abbreviations_inside_a_quotation():
    text = 'He said: "Mr. Kishida met Dr. Smith in the U.S. capital. He left on Jan. 31." Then J. Biden spoke.'
    assert _sentences(text) == [
        'He said: "Mr. Kishida met Dr. Smith in the U.S. capital. He left on Jan. 31."',
        "Then J. Biden spoke.",
    ]


def test_a_long_quotation_keeps_its_sentence_ends_and_chunks_stay_bounded():
    speech = " ".join(f"Sentence number {i} of the speech is here." for i in range(40))
    text = f'He said: "{speech}" Then he left.'
    assert len(_sentences(text)) == 41
    # A merged quotation sentence longer than the chunk size is cut at its own sentence ends, not mid-sentence.
    short = " ".join(f"Sentence number {i} of the speech is here." for i in range(6))
    text = f'He said: "{short}" Then he left.'
    assert len(_sentences(text)) == 2
    spans = sentence_spans(text, size=100)
    assert all(e - s <= 100 for s, e in spans)
    assert all(text[s:e].endswith((".", '."')) for s, e in spans)
    chunks = chunk_article(Article(id="q", text=text), size=100, overlap=30)
    assert all(len(c.text) <= 100 for c in chunks)


_WORDS = ["Japan", "Japan's", "Japan’s", "don't", "won’t", "Mr.", "U.S.", "partner", "NATO", "value", "rock", "’90s"]
_sentence = st.builds(lambda first, rest, stop: " ".join([first, *rest]) + stop,
                      st.sampled_from(["We", "It", "Mr. Kishida", "The U.S.", "Japan's PM", "NATO"]),
                      st.lists(st.sampled_from(_WORDS), max_size=6), st.sampled_from([".", "!", "?"]))  # fmt: skip
_marks = st.sampled_from([('"', '"'), ("“", "”")])


@st.composite
def _paragraph(draw) -> tuple[str, bool]:
    """A paragraph of sentences and quotations, and whether its quotation marks pair up (at most one mark is
    unpaired: two could pair with each other)."""
    pieces, paired = [], True
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["plain", "said", "quote-first"] + (["unclosed", "stray"] if paired else [])))
        body = " ".join(draw(st.lists(_sentence, min_size=1, max_size=3)))
        o, c = draw(_marks)
        if kind == "plain":
            pieces.append(body)
        elif kind == "said":
            pieces.append(f"He said: {o}{body}{c}")
        elif kind == "quote-first":
            pieces.append(f"{o}{body[:-1]},{c} he said.")
        elif kind == "unclosed":
            pieces.append(f"He said: {o}{body}")
            paired = False
        else:
            pieces.append(draw(st.sampled_from(['A 6" pipe.', 'A lone " mark.', "It closes.”", "It “opens."])))
            paired = False
    return " ".join(pieces), paired


@settings(max_examples=300, deadline=None)
@given(st.lists(_paragraph(), min_size=1, max_size=4), st.sampled_from(["\n", "\n\n"]))
def test_quotation_marks_of_every_sentence_pair_up_unless_its_paragraph_s_do_not(paragraphs, newline):
    text = newline.join(p for p, _ in paragraphs)
    spans = split_sentences(text)
    at = 0
    for paragraph, paired in paragraphs:
        inside = [(s, e) for s, e in spans if at <= s < at + len(paragraph)]
        assert all(e <= at + len(paragraph) for s, e in inside), "a sentence never crosses a paragraph"
        if paired:
            for s, e in inside:
                sentence = text[s:e]
                assert sentence.count("“") == sentence.count("”") and sentence.count('"') % 2 == 0, sentence
        else:
            assert inside == split_sentences(paragraph, offset=at, quotations=False)
        at += len(paragraph) + len(newline)
