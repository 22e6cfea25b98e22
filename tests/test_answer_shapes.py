"""Answers in the shape the question asks for, on the seed articles (none of these questions was used to fit the
answer decision, which was fitted on SQuAD questions only): yes/no verdicts, lists, follow-ups that keep their
sense, quotations kept whole, quotes that read alone, and a confidence that is a probability."""

import re

import pytest

from qa.answering import leans_on_previous

from .test_answers import check_citations

# Each test asks the real models: the answers are what is under test (the slow tier).
pytestmark = pytest.mark.slow


def balanced(quote: str) -> bool:
    return quote.count('"') % 2 == 0 and quote.count("“") == quote.count("”")


def test_a_yes_no_question_the_evidence_settles_gets_a_verdict(assistant):
    answer = assistant.ask("Is Japan a NATO member?")
    assert answer.verdict == "no" and answer.text.startswith("No. "), answer.text
    assert "not a member" in answer.citations[0].quote
    check_citations(assistant, answer)


def test_a_contrary_verb_settles_a_yes_no_question(assistant):
    answer = assistant.ask("Does President Macron back the Tokyo office?")
    assert answer.verdict == "no", answer.text
    assert "oppos" in answer.citations[0].quote


def test_the_same_statement_settles_a_yes(assistant):
    answer = assistant.ask("Did Kishida attend the NATO summit in Vilnius?")
    assert answer.verdict == "yes" and answer.text.startswith("Yes. "), answer.text
    assert "attended" in answer.citations[0].quote


@pytest.mark.parametrize("question", ["Will NATO open its Tokyo office before the end of the year?",
                                      "Did China send a delegation to the Vilnius summit?"])  # fmt: skip
def test_no_verdict_where_the_articles_do_not_settle_it(assistant, question):
    answer = assistant.ask(question)
    assert answer.verdict is None, answer.text
    assert not answer.text.startswith(("Yes.", "No."))


def test_a_list_question_gets_every_item_for_its_role(assistant):
    answer = assistant.ask("Which countries support the NATO liaison office?")
    text = answer.text
    assert "the United States" in text and "the United Kingdom" in text, text
    assert "New Zealand" not in text  # the partners the office would consult: another role
    check_citations(assistant, answer)


def test_a_list_from_one_sentence_keeps_every_item(assistant):
    answer = assistant.ask("Which Asia-Pacific partners would the NATO office consult?")
    for item in ("Australia", "New Zealand", "Japan", "South Korea"):
        assert item in answer.text, answer.text


def test_why_after_a_no_asks_about_what_the_articles_say(assistant):
    first = assistant.ask("Is Emmanuel Macron in favour of the Tokyo liaison office?")
    why = assistant.ask("Why?", history=[first])
    searched = why.standalone_question.lower()
    assert "why" in searched and "macron" in searched
    if first.verdict == "no":
        assert "oppose" in searched or " not " in searched, searched
    else:
        assert "or doesn't" in searched or "or isn't" in searched, searched


def test_and_is_not_searched(assistant):
    first = assistant.ask("Who supports the liaison office in Tokyo?")
    second = assistant.ask("And who is against it?", history=[first])
    assert not second.standalone_question.lower().startswith("and ")


def test_a_quotation_is_quoted_whole(assistant):
    answer = assistant.ask("What did the NATO chief say about how close Japan is to the alliance?")
    assert not answer.abstained
    for c in answer.citations:
        assert balanced(c.quote), c.quote
    assert any("No other partner is closer to NATO than Japan" in c.quote for c in answer.citations)


def test_every_quote_has_balanced_quotation_marks(assistant):
    for question in ("What did Stoltenberg tell Kishida?", "What did Schuster say about Europe?",
                     "What do the articles say about the Chinese mission?"):  # fmt: skip
        for c in assistant.ask(question).citations:
            assert balanced(c.quote), c.quote


def test_overview_quotes_read_alone(assistant):
    answer = assistant.ask("Tell me about Kishida and Stoltenberg")
    assert answer.citations
    for c in answer.citations:
        assert not leans_on_previous(c.quote), c.quote


def test_confidence_is_a_probability_that_separates_answers_from_abstentions(assistant):
    right = assistant.ask("In which city was the NATO summit held?")
    unknown = assistant.ask("Which football club does Jens Stoltenberg support?")
    assert unknown.abstained and not right.abstained
    assert 0 <= unknown.confidence < right.confidence <= 1
    assert re.search(r"Vilnius", right.text)
