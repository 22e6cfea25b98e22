"""The Streamlit chat through streamlit.testing's AppTest (the real app, models and index)."""

import json
import re
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from qa.citations import Answer, Citation, QuotedSpan, ShortAnswer
from qa.ui_text import (
    answer_body,
    answer_lead,
    context_after,
    context_before,
    marked_article_html,
    plain,
    quote_markdown,
    sources_by_article,
)

from .conftest import APP, MACRON_REASONS, SEED_IDS, STUCK, WHY_MACRON_OPPOSES, wait_until


def page_text(at) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info])


def ask(at, question):
    at.chat_input[0].set_value(question).run()
    assert not at.exception
    return page_text(at)


def example_buttons(at) -> list:
    return [b for b in at.button if str(b.key or "").startswith("example-")]


@pytest.mark.slow
def test_empty_chat_offers_examples_and_clicking_one_asks_it(app):
    examples = example_buttons(app)
    assert examples
    examples[0].click().run()
    assert any(m.name == "assistant" for m in app.chat_message)


@pytest.mark.slow
def test_every_example_question_the_page_offers_gets_an_answer(app):
    examples = [b.label for b in example_buttons(app)]
    assert len(examples) >= 3
    for example in examples:
        next(b for b in app.button if b.label == example).click().run()
        assert not app.exception
        answer = app.session_state["messages"][-1]["answer"]
        assert not answer["abstained"] and answer["citations"], example
        next(b for b in app.button if b.label == "New chat").click().run()


@pytest.mark.slow
def test_asking_shows_the_short_answer_first_then_the_quote_and_its_source(app):
    text = ask(app, "How long was the North Korean rocket in the air?")
    assert "70 minutes" in text and "\\[1\\]" in text and "JAPAN Forward" in text
    answer = app.session_state["messages"][-1]["answer"]
    lead, body = app.markdown[0].value.split("\n\n", 1)
    assert lead == "**" + plain(answer["short_answer"]["text"]) + "**"
    assert ":green[**" + plain(answer["short_answer"]["text"]) + "**]" in body and "-background[" not in text
    assert any(c.value.startswith("Confidence ") for c in app.caption)
    assert [b.label for b in app.button].count("Open article") == 1
    # the citation id is behind "Copy citation" (a code block to copy), not printed as page text
    citation_id = answer["citations"][0]["id"]
    assert [c.value for c in app.code] == [citation_id] and plain(citation_id) not in text and citation_id not in text


@pytest.mark.slow
def test_an_overview_shows_one_card_per_article_with_its_quotes(app):
    ask(app, "What do the articles say about South Korea?")
    answer = app.session_state["messages"][-1]["answer"]
    articles = {c["article_id"] for c in answer["citations"]}
    assert len(answer["citations"]) > len(articles)  # several quotes from one article: the case this is about
    assert [b.label for b in app.button].count("Open article") == len(articles)
    titles = [m.value for m in app.main.markdown if m.value.startswith("**") and m.value.endswith("**")]
    assert len(titles) == len(set(titles)) == len(articles)
    quotes = [m.value for m in app.markdown if m.value.startswith("\\[")]
    assert len(quotes) == len(answer["citations"])
    for quote in quotes:  # context is cut at a word's end: "…" follows a space, and precedes a whole word
        assert not re.search(r"\\w…|…\\w*\\]|…$", quote.replace(":gray[", "")), quote


@pytest.mark.slow
def test_follow_up_shows_the_searched_question(app):
    ask(app, "Who opposes the Tokyo liaison office?")
    text = ask(app, "Why?")
    assert re.search("Searched: " + WHY_MACRON_OPPOSES.pattern, text)
    assert any(reason in text for reason in MACRON_REASONS)


@pytest.mark.slow
def test_a_quoted_photo_caption_is_labelled_inside_its_citation(app):
    text = ask(app, "When did Kishida and Stoltenberg shake hands in Tokyo?")
    assert "Jan\\. 31, 2023" in text
    assert "\\[1\\] **Photo caption:** " in text  # the label inside the card, before the quote
    assert "photo caption\\)" not in text  # not after the [1] marker, where it reads as the next sentence


@pytest.mark.slow
def test_a_verdict_is_the_lead_line(app):
    ask(app, "Does Macron support the Tokyo liaison office?")
    assert app.session_state["messages"][-1]["answer"]["verdict"] == "no"
    lead, body = app.markdown[0].value.split("\n\n", 1)
    assert lead == "**No\\.**" and not body.startswith("No")


@pytest.mark.slow
def test_abstention_folds_the_closest_passages_away(app):
    text = ask(app, "Who won the 2022 FIFA World Cup?")
    assert "The articles don't say" in text
    closest = [e for e in app.expander if e.label == "Closest passages"]
    assert len(closest) == 1 and not closest[0].proto.expanded
    related = app.session_state["messages"][-1]["answer"]["related"]
    assert related and len(closest[0].button) == len({c["article_id"] for c in related})


@pytest.mark.slow
def test_new_chat_clears_the_conversation(app):
    ask(app, "Who is Koji Tomita?")
    assert app.session_state["messages"]
    next(b for b in app.button if b.label == "New chat").click().run()
    assert app.session_state["messages"] == []


@pytest.mark.slow
def test_source_filter_limits_citations(app):
    sources = [m for m in app.multiselect if m.label == "Publishers"][0]
    sources.set_value(["The Epoch Times"]).run()
    ask(app, "What did Stoltenberg say?")
    answer = app.session_state["messages"][-1]["answer"]
    assert {c["source"] for c in answer["citations"] + answer["related"]} <= {"The Epoch Times"}


@pytest.mark.hashed_embedder
def test_errors_show_as_a_message_not_a_traceback(app):
    ask(app, "x" * 2500)
    assert any("limit is 2,000" in e.value for e in app.error)


@pytest.mark.slow
def test_article_markup_is_escaped(tmp_path, monkeypatch):
    """An article with a script tag and a Markdown image/link shows them as text, never live."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "evil.md").write_text(
        "---\ntitle: Evil <script>alert(1)</script> title\nsource: Bad Actor\n---\n"
        "The harbour closed on Friday <script>alert('x')</script> after a storm "
        "![tracker](http://127.0.0.1:9/pixel.png) [click](javascript:alert(1)).\n"
    )
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("QA_SEEDS_DIR", str(seeds))
    at = AppTest.from_file(APP, default_timeout=STUCK).run()
    ask(at, "When did the harbour close?")
    for m in at.markdown:
        assert "<script>" not in m.value.replace("\\<script\\>", "")
        assert "![tracker]" not in m.value and "](javascript" not in m.value
    assert "Friday" in page_text(at)


@pytest.mark.slow
def test_upload_indexes_new_articles_and_names_skipped_files(app):
    uploader = app.file_uploader[0]
    uploader.set_value([
        ("ferry.md", b"---\ntitle: Ferry news\nsource: Harbour Times\n---\nThe night ferry to Tallinn restarts on 3 May.\n", "text/markdown"),
        ("empty.txt", b"", "text/plain"),
        ("bad.jsonl", b'{"doc_id": "j1", "text": "A jsonl story about trams."}\n{broken\n', "application/json"),
    ]).run()  # fmt: skip
    next(b for b in app.button if b.label == "Add to index").click().run()
    wait_for_index_job(app)
    assert [s.value.replace("\\", "") for s in app.success] == ["Added “Ferry news” and bad.jsonl, line 1."]
    assert [w.value.replace("\\", "") for w in app.warning] == [
        "Skipped bad.jsonl, line 2: malformed JSON (Expecting property name enclosed in double quotes)."
    ]
    assert [e.value.replace("\\", "") for e in app.error] == ["Skipped empty.txt: the file is empty."]
    text = ask(app, "When does the night ferry to Tallinn restart?")
    assert "3 May" in text and "Harbour Times" in text


def wait_for_index_job(at) -> None:
    """The run goes on in a thread while the page stays usable; rerun the page until it has ended."""
    assert not at.exception
    job = at.session_state["index_job"]
    assert job is not None
    wait_until(lambda: job.done.is_set(), "the index job")
    at.run()  # the job's outcome is stored and shown, the page rerun
    assert not at.exception
    assert "index_job" not in at.session_state or at.session_state["index_job"] is None


@pytest.mark.slow
def test_uploads_are_kept_so_the_same_name_again_updates_that_article(app, tmp_path):
    for day in ("3 May", "9 June"):
        app.file_uploader[0].set_value([("ferry.md", f"The night ferry to Tallinn restarts on {day}.\n".encode(),
                                         "text/markdown")]).run()  # fmt: skip
        next(b for b in app.button if b.label == "Add to index").click().run()
        wait_for_index_job(app)
    assert [s.value.replace("\\", "") for s in app.success] == ["Updated ferry.md with the new text."]
    assert (tmp_path / "index" / "uploads" / "ferry.md").read_text().endswith("9 June.\n")
    assert "9 June" in ask(app, "When does the night ferry to Tallinn restart?")


@pytest.mark.hashed_embedder
def test_a_file_over_the_upload_limit_is_refused_with_one_message(tmp_path, seed_index, monkeypatch):
    shutil.copytree(seed_index, tmp_path / "index")
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("QA_MAX_UPLOAD_MB", "0.001")
    at = AppTest.from_file(APP, default_timeout=STUCK)
    at.run()
    at.file_uploader[0].set_value([("big.txt", b"The tram line opens in May. " * 100, "text/plain")]).run()
    next(b for b in at.button if b.label == "Add to index").click().run()
    assert not at.exception
    shown = [e.value.replace("\\", "") for e in at.error]
    assert shown == ["big.txt is 0.0 MB; the chat takes files up to 0.001 MB (QA_MAX_UPLOAD_MB); index bigger ones "
                     "with `qa index`"]  # fmt: skip
    assert at.session_state["index_job"] is None if "index_job" in at.session_state else True


@pytest.mark.hashed_embedder
def test_no_stray_objects_are_rendered(app):
    """Streamlit "magic" writes bare expressions to the page; the app must not show internals."""
    assert not [m.value for m in app.markdown if "method" in m.value and "BM25" in m.value]
    assert not app.get("help") and not app.get("json")


@pytest.mark.hashed_embedder
def test_an_invalid_setting_is_one_message_not_a_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("QA_CHUNK_OVERLAP", "900")
    at = AppTest.from_file(APP, default_timeout=STUCK)
    at.run()
    assert not at.exception
    shown = [e.value.replace("\\", "") for e in at.error]  # Markdown-escaped on the page
    assert shown == ["invalid setting: QA_CHUNK_OVERLAP (900) must be smaller than QA_CHUNK_SIZE (700)"]


@pytest.mark.slow
def test_the_chat_refuses_a_loopback_address_and_an_upload_cannot_replace_an_indexed_article(app):
    # QA_WEB_ALLOWED_HOSTS is unset here: a URL typed in the chat cannot reach this machine's own services.
    app.text_area[0].set_value("http://127.0.0.1:9/admin\nhttp://169.254.169.254/latest/meta-data/").run()
    forged = json.dumps({"doc_id": SEED_IDS[0], "title": "Forged", "text": "The Vilnius summit was cancelled."})
    app.file_uploader[0].set_value([("forged.jsonl", forged.encode() + b"\n", "application/json")]).run()
    next(b for b in app.button if b.label == "Add to index").click().run()
    wait_for_index_job(app)
    errors = " ".join(e.value.replace("\\", "") for e in app.error)
    assert "Skipped http://127.0.0.1:9/admin: refused: 127.0.0.1 is a loopback address" in errors, errors
    assert "169.254.169.254 is a link-local address" in errors, errors
    assert [s.value.replace("\\", "") for s in app.success] == ["Added “Forged”."]
    assert "was cancelled" not in ask(app, "Who did Kishida meet in Vilnius?")


# --- the text of answers and source cards (qa.ui_text), without Streamlit ------------------------------------

ARTICLE = "Rocket launch\nThe agency reports that the rocket flew for 70 minutes. It fell into the sea.\nPhoto: AP"


def quote_of(text: str, sentence: str, marker: int = 1, **fields) -> Citation:
    start = text.index(sentence)
    return Citation(id=f"a:{start}-{start + len(sentence)}@v", article_id=fields.pop("article_id", "a"), title="T",
                    quote=sentence, start=start, end=start + len(sentence), marker=marker, **fields)  # fmt: skip


def test_context_is_cut_at_word_boundaries_with_an_ellipsis_only_where_cut():
    start = ARTICLE.index("the rocket")
    before = context_before(ARTICLE, start, limit=18)
    assert before == "…reports that "  # not "…eports that"
    assert context_before(ARTICLE, start, limit=500) == "The agency reports that "  # its paragraph's start
    assert context_before("Seoul said so.", 6) == "Seoul "  # the article's start: nothing was cut
    end = ARTICLE.index(" It fell")
    assert context_after(ARTICLE, end, limit=500) == " It fell into the sea."  # the paragraph's end, no "…"
    assert context_after(ARTICLE, end, limit=12) == " It fell…"
    assert context_after("It fell. The end", 8) == " The end"  # the article's end: nothing was cut
    assert context_after("It fell. Overwhelmingly", 8, limit=5) == ""  # no whole word fits


def test_quotes_are_grouped_into_one_card_per_article_in_answer_order():
    a1, b, a2 = (quote_of(ARTICLE, s, m, article_id=i) for s, m, i in
                 (("It fell into the sea.", 1, "x"), ("Rocket launch", 2, "y"), ("Photo: AP", 3, "x")))  # fmt: skip
    groups = sources_by_article([a1, b, a2])
    assert [(g.article_id, [q.marker for q in g.quotes]) for g in groups] == [("x", [1, 3]), ("y", [2])]


def test_a_quote_line_labels_captions_and_pages_before_the_quote_and_escapes_everything():
    caption = quote_of(ARTICLE, "Photo: AP", 2, caption=True, page=3)
    line = quote_markdown(caption, ARTICLE)
    assert line.startswith("\\[2\\] **Page 3 · Photo caption:** ") and line.endswith("Photo\\: AP")
    assert quote_markdown(quote_of(ARTICLE, "It fell into the sea.", 1), ARTICLE) == (
        "\\[1\\] :gray[The agency reports that the rocket flew for 70 minutes\\.] It fell into the sea\\."
    )
    evil = "Intro [x](javascript:alert(1)) <b>bold</b> text. The quote."
    line = quote_markdown(quote_of(evil, "The quote."), evil)
    assert "](javascript" not in line and "<b>" not in line and "[x]" not in line
    related = QuotedSpan(id="a:0-5", article_id="a", quote="Intro", start=0, end=5)  # a passage has no marker
    assert quote_markdown(related, evil).startswith("Intro :gray[")


def answer_with(text: str, quote: str, short: str = "", **fields) -> Answer:
    citation = quote_of(ARTICLE, quote, caption=fields.pop("caption", False))
    at = citation.start + quote.index(short) if short else 0
    short_answer = ShortAnswer(text=short, article_id="a", start=at, end=at + len(short)) if short else None
    return Answer(question="q", text=text, citations=[citation], short_answer=short_answer, **fields)


def test_the_lead_is_the_verdict_or_the_short_answer_and_the_body_does_not_repeat_a_caption_label():
    quote = "The agency reports that the rocket flew for 70 minutes."
    answer = answer_with(f"{quote} [1] (photo caption)", quote, "70 minutes", caption=True)
    assert answer_lead(answer) == "70 minutes"
    assert answer_body(answer) == (
        "The agency reports that the rocket flew for :green[**70 minutes**]\\. \\[1\\]"  # tight against the "."
    )
    verdict = answer_with(f"No. {quote} [1]", quote, verdict="no")
    assert answer_lead(verdict) == "No." and answer_body(verdict) == plain(f"{quote} [1]")
    abstained = Answer(question="q", text="The articles don't say.", abstained=True)
    assert answer_lead(abstained) == "" and answer_body(abstained) == plain("The articles don't say.")


def test_the_article_html_is_escaped_and_marks_every_quote_scrolling_to_the_first():
    text = "<script>alert(1)</script> One. Two. Three."
    html = marked_article_html(text, [(text.index("Three."), len(text)), (text.index("One."), text.index(" Two")),
                                      (text.index("Three"), len(text) - 1)])  # fmt: skip
    assert "<script>" not in html and html.startswith("&lt;script&gt;")
    assert html.count("<mark") == 2 and '<mark id="cited" class="quote">Three.</mark>' in html
    assert '<mark class="quote">One.</mark>' in html
