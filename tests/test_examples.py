"""Example questions drawn from the indexed articles (qa/examples.py), and the sidebar written for readers."""

from __future__ import annotations

import re
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from qa.examples import article_names, example_questions
from qa.loaders import load_articles

from .conftest import APP, SEEDS, STUCK, wait_until

FORMS = {
    "person": re.compile(r"^Who is (?P<name>.+)\?$"),
    "place": re.compile(r"^What happened in (?P<name>.+)\?$"),
    "thing": re.compile(r"^What do the articles say about (?P<name>.+)\?$"),
    "title": re.compile(r"^Summarize “(?P<name>.+)”$"),
}
TRAM = """---
title: Tallinn opens its new tram line to the harbour
source: Baltic Transit Weekly
published: 2030-05-04
---
Mayor Kadri Tamm opened the new tram line in Tallinn on Saturday.
The line links the old town with the harbour, said Kadri Tamm, and runs every six minutes.
Crowds waited in Tallinn for the first tram, which Ms Tamm drove herself.
Tallinn City Transport ordered twelve trams from a Spanish builder.
"""


def form_and_name(question: str) -> tuple[str, str]:
    for form, pattern in FORMS.items():
        if m := pattern.match(question):
            return form, m.group("name")
    raise AssertionError(f"not one of the example forms: {question!r}")


@pytest.mark.hashed_embedder
def test_the_examples_name_people_places_and_titles_of_the_seed_articles(assistant):
    seeds = list(load_articles([SEEDS]))
    questions = example_questions(assistant.store, n=6)
    assert len(questions) == 6 and len(set(questions)) == 6
    forms = [form_and_name(q) for q in questions]
    for form, name in forms:
        if form == "title":
            assert name in {a.title for a in seeds}
        else:
            assert any(name in a.text for a in seeds), name
    assert len({form for form, _ in forms[:3]}) == 3, questions  # the first three ask in three ways
    assert ("person", "Fumio Kishida") in forms and ("thing", "NATO") in forms, questions


@pytest.mark.hashed_embedder
def test_a_new_article_brings_its_own_example(fresh_assistant, tmp_path):
    before = example_questions(fresh_assistant.store)
    (tmp_path / "tram.md").write_text(TRAM, encoding="utf-8")
    fresh_assistant.index([tmp_path / "tram.md"])
    after = example_questions(fresh_assistant.store)
    assert after != before and len(after) == 3
    assert any("Kadri Tamm" in q or "Tallinn" in q for q in after), after


@pytest.mark.hashed_embedder
def test_the_examples_come_from_the_newest_articles_by_publication_date(fresh_assistant, tmp_path, monkeypatch):
    (tmp_path / "tram.md").write_text(TRAM, encoding="utf-8")  # published 2030, after both seed articles
    (tmp_path / "zz-old.md").write_text(TRAM.replace("2030-05-04", "1990-05-04").replace("Tallinn", "Tartu"), "utf-8")
    fresh_assistant.index([tmp_path])
    monkeypatch.setattr("qa.examples.MAX_ARTICLES", 1)
    assert all("Tartu" not in q for q in example_questions(fresh_assistant.store, n=6))
    assert any("Tallinn" in q or "Kadri Tamm" in q for q in example_questions(fresh_assistant.store, n=6))


def test_names_are_people_by_their_full_name_and_never_sentence_starters_or_adjectives():
    text = TRAM.split("---\n")[-1]
    found = {n.text: n for n in article_names(text)}
    assert found["Kadri Tamm"].kind == "person" and found["Tamm"].kind == "person"  # "Mayor ...", "Ms Tamm"
    assert found["Tallinn"].kind == "place"
    assert not {"The", "Crowds", "Spanish", "Saturday", "Mayor"} & set(found)
    headline = "Japanese Prime Minister Expected to Address East Asia Security Risks at NATO Summit\nNATO met."
    assert "Address East Asia Security Risks" not in {n.text for n in article_names(headline)}


def test_an_empty_index_has_no_examples(tmp_path):
    from qa import Assistant, Settings

    assert example_questions(Assistant(Settings(index_dir=tmp_path / "index")).store) == []


@pytest.mark.slow
def test_every_example_question_gets_a_cited_answer(assistant):
    for question in example_questions(assistant.store, n=6):
        answer = assistant.ask(question)
        assert not answer.abstained and answer.citations, question


# --- the sidebar --------------------------------------------------------------------------------------------------


def example_buttons(at) -> list[str]:
    return [b.label for b in at.button if str(b.key or "").startswith("example-")]


@pytest.mark.slow
def test_the_sidebar_speaks_to_readers(app):
    captions = " ".join(c.value for c in app.sidebar.caption)
    assert "2 articles to ask about" in captions
    about = next(e for e in app.sidebar.expander if e.label == "About this index")
    assert "all-MiniLM-L6-v2" in " ".join(c.value.replace("\\", "") for c in about.caption)
    assert len([c for c in app.sidebar.caption if "MiniLM" in c.value]) == 1  # the model and folder only in there
    assert [s.label for s in app.slider] == ["Passages per answer"]
    assert not app.radio  # one answer mode (no chat model configured): nothing to choose
    articles = next(m for m in app.multiselect if m.label == "Articles")
    long_title = "Japanese Prime Minister Expected to Address East Asia Security Risks at NATO Summit (The Epoch Times)"
    assert long_title in articles.options  # whole, not cut at 80 characters


@pytest.mark.hashed_embedder
def test_the_examples_on_the_page_change_after_an_index_run(tmp_path, seed_index, monkeypatch):
    shutil.copytree(seed_index, tmp_path / "index")
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "index"))
    at = AppTest.from_file(APP, default_timeout=STUCK)
    at.run()
    before = example_buttons(at)
    assert len(before) == 3
    at.file_uploader[0].set_value([("tram.md", TRAM.encode(), "text/markdown")]).run()
    next(b for b in at.button if b.label == "Add to index").click().run()
    job = at.session_state["index_job"]
    wait_until(lambda: job.done.is_set(), "the index job")
    at.run()
    assert not at.exception
    after = example_buttons(at)
    assert after != before and any("Kadri Tamm" in q or "Tallinn" in q for q in after), after
