"""The conversation layer (issue 11): follow-ups, overviews, why/how, yes/no and mention questions, headings
and photo captions, on the seed articles with the real reader and index."""

from __future__ import annotations

import json
import re

import pytest

from qa.answering import Quoter, is_heading, is_quotable
from qa.conversation import Kind, Turn, analyse, resolve_follow_up
from qa.evaluation import evaluate_conversations, load_conversations

from .conftest import MACRON_REASONS, ROOT, SEED_IDS, WHY_MACRON_OPPOSES
from .test_answers import check_citations


def converse(assistant, *questions):
    """Ask the questions in turn, each with the earlier answers as history."""
    answers = []
    for question in questions:
        answers.append(assistant.ask(question, history=list(answers)))
        check_citations(assistant, answers[-1])
    return answers


def check_markers(answer):
    """Every citation's quote, with its marker, is in the answer's text."""
    for c in answer.citations:
        assert f"{c.quote} [{c.marker}]" in answer.text


# --- question analysis and follow-up resolution (no models) --------------------------------------------


@pytest.mark.parametrize(
    ("question", "kind", "topic"),
    [
        ("Is China mentioned?", Kind.MENTION, "China"),
        ("Do both articles mention Macron?", Kind.MENTION, "Macron"),
        ("Which articles mention Koji Tomita?", Kind.MENTION, "Koji Tomita"),
        ("Is there any mention of Germany?", Kind.MENTION, "Germany"),
        ("Does Taiwan come up in both articles?", Kind.MENTION, "Taiwan"),
        ("Does Kishida appear to support the office?", Kind.YES_NO, ""),
        ("What do the articles say about Mr Kishida?", Kind.OVERVIEW, "Mr Kishida"),
        ("Tell me about South Korea's role", Kind.OVERVIEW, "South Korea's role"),
        ("What happened at the Vilnius summit?", Kind.OVERVIEW, "the Vilnius summit"),
        ("Summarize the articles", Kind.SUMMARY, ""),
        ("Summarize the Epoch Times article", Kind.SUMMARY, "Epoch Times"),
        ("Why does Macron oppose the office?", Kind.WHY, ""),
        ("How did China react?", Kind.WHY, ""),
        ("How long was the rocket in the air?", Kind.FACT, ""),
        ("Did Japan join NATO?", Kind.YES_NO, ""),
        ("Who is NATO's Secretary General?", Kind.FACT, ""),
    ],
)
def test_one_function_decides_the_kind_of_answer(question, kind, topic):
    asked = analyse(question)
    assert (asked.kind, asked.topic) == (kind, topic)


def test_every_article_is_asked_for():
    assert analyse("Do both articles mention Macron?").every_article
    assert analyse("Is Taiwan mentioned in both articles?").every_article
    assert not analyse("Is China mentioned?").every_article


@pytest.mark.parametrize(
    ("question", "previous", "standalone"),
    [
        # a pronoun takes the previous short answer when it names someone ...
        ("What did he say about Japan?", Turn("Who is NATO's Secretary General?", "Jens Stoltenberg"),
         "What did Jens Stoltenberg say about Japan?"),
        ("When did they shake hands?", Turn("Who welcomed Kishida in Vilnius?", "Jens Stoltenberg"),
         "When did Kishida and Jens Stoltenberg shake hands in Vilnius?"),
        ("What happened there?", Turn("In which city was the summit held?", "Vilnius"), "What happened in Vilnius?"),
        # ... else the previous question's subject
        ("Who supports it?", Turn("Why does Macron oppose the Tokyo liaison office?", "he believes a push"),
         "Who supports the Tokyo liaison office?"),
        ("How long was it in the air?", Turn("What did North Korea launch?", "ballistic missile"),
         "How long was the ballistic missile in the air?"),
        # elliptical follow-ups are rebuilt from the previous standalone question
        ("Why?", Turn("Who opposes the Tokyo liaison office?", "President Emmanuel Macron"),
         "Why does President Emmanuel Macron oppose the Tokyo liaison office?"),
        ("When?", Turn("Who did Kishida meet in Vilnius?", "Jens Stoltenberg"),
         "When did Kishida meet Jens Stoltenberg in Vilnius?"),
        ("Why?", Turn("How long was the rocket in the air?", "70 minutes"), "Why was the rocket in the air?"),
        ("And South Korea?", Turn("What did Stoltenberg say about Japan?", "x"),
         "What did Stoltenberg say about South Korea?"),
        ("What about the UK?", Turn("Does France support the office?"), "Does the UK support the office?"),
        ("Who said so?", Turn("How long was the rocket in the air?", "70 minutes"),
         "Who said the rocket was in the air 70 minutes?"),
        ("Where is that mission based?", Turn("How did the Chinese mission respond?", "rebutted the claims"),
         "Where is the Chinese mission based?"),
        ("What did they issue?", Turn("Where did Kishida meet Stoltenberg?", "Tokyo"),
         "What did Kishida and Stoltenberg issue?"),
        ("Since when?", Turn("How have relations between Seoul and Tokyo changed?", "markedly improved"),
         "Since when have relations between Seoul and Tokyo changed?"),
        ("Tell me more about him", Turn("Who opposes the office?", "Emmanuel Macron"), "Tell me about Emmanuel Macron"),
        ("Tell me more", Turn("What do the articles say about Mr Kishida?"), "Tell me about Mr Kishida"),
        # not follow-ups
        ("Is the office the first of its kind?", Turn("What would the office do?", "facilitate consultations"),
         "Is the office the first of its kind?"),
        ("Who is Carl Schuster?", Turn("Who opposes the office?", "Macron"), "Who is Carl Schuster?"),
    ],
)  # fmt: skip
def test_follow_ups_are_made_standalone(question, previous, standalone):
    assert resolve_follow_up(question, [previous]) == standalone


MACRON_SAID = "President Emmanuel Macron of France has indicated that he opposes the plan."
NOT_A_MEMBER = 'Japan is not a member of NATO but Mr Kishida was invited to the meeting in Vilnius as an "observer."'
SUPPORTERS = "However, the United States, the United Kingdom, and many other NATO members support it."


@pytest.mark.parametrize(
    ("question", "previous", "standalone"),
    [
        # "no" and the evidence's contrary verb, in the question's form
        ("Why?", Turn("Does Macron support the Tokyo liaison office?", verdict="no", evidence=MACRON_SAID),
         "Why does Macron oppose the Tokyo liaison office?"),
        ("Why not?", Turn("Does Macron support the Tokyo liaison office?", verdict="no", evidence=MACRON_SAID),
         "Why does Macron oppose the Tokyo liaison office?"),
        ("Why?", Turn("Does China support the Tokyo liaison office?", verdict="no",
                      evidence="China is also strongly opposed to the proposal."),
         "Why does China oppose the Tokyo liaison office?"),
        ("Why is that?", Turn("Does the United States oppose the Tokyo liaison office?", verdict="no",
                              evidence=SUPPORTERS),
         "Why does the United States support the Tokyo liaison office?"),
        ("Why?", Turn("Has Japan opposed Ukraine?", verdict="no",
                      evidence="Japan has offered Ukraine strong diplomatic support."),
         "Why has Japan supported Ukraine?"),
        ("Why?", Turn("Does Macron back the office?", verdict="no",
                      evidence="It proceeds in the face of French President Emmanuel Macron’s opposition to a move."),
         "Why does Macron oppose the office?"),
        ("Why?", Turn("Is France backing the office?", verdict="no", evidence="France is rejecting the office."),
         "Why is France rejecting the office?"),
        ("Why?", Turn("Did Lithuania ban the meeting?", verdict="no", evidence="Lithuania allowed the meeting."),
         "Why did Lithuania allow the meeting?"),
        # "no" without a contrary verb of the subject's: the question's verb, negated
        ("Why?", Turn("Does Macron support the Tokyo liaison office?", verdict="no"),
         "Why does Macron not support the Tokyo liaison office?"),
        ("Why?", Turn("Does Germany support the Tokyo liaison office?", verdict="no",
                      evidence="China is also strongly opposed to the proposal."),  # someone else's verb
         "Why does Germany not support the Tokyo liaison office?"),
        ("Why?", Turn("Does President Biden support the office?", verdict="no", evidence="President Yoon opposed it."),
         "Why does President Biden not support the office?"),  # "President" alone names no one
        ("Why?", Turn("Does Macron support the plan?", verdict="no", evidence="Macron did not oppose the plan."),
         "Why does Macron not support the plan?"),
        ("Why?", Turn("Does Macron oppose the plan?", verdict="no", evidence="Macron pushed back against it."),
         "Why does Macron not oppose the plan?"),  # "back" here is no backing
        ("Why not?", Turn("Is Japan a member of NATO?", verdict="no", evidence=NOT_A_MEMBER),
         "Why is Japan not a member of NATO?"),
        ("Why not?", Turn("Did Japan join NATO?", verdict="no", evidence=NOT_A_MEMBER), "Why did Japan not join NATO?"),
        ("Why?", Turn("Is the office opposed by France?", verdict="no", evidence="France supports the office."),
         "Why is the office not opposed by France?"),
        ("Why?", Turn("Does the alliance agree to open an office in Tokyo?", verdict="no"),
         "Why does the alliance not agree to open an office in Tokyo?"),
        ("Why?", Turn("Does the military alliance want an office in Tokyo?", verdict="no"),
         "Why doesn't the military alliance want an office in Tokyo?"),
        # "yes"
        ("Why?", Turn("Does Macron support the Tokyo liaison office?", verdict="yes"),
         "Why does Macron support the Tokyo liaison office?"),
        ("How come?", Turn("Did Kishida attend the NATO summit?", verdict="yes"),
         "Why did Kishida attend the NATO summit?"),
        ("Why?", Turn("Was Yoon Suk-Yeol granted observer status?", verdict="yes"),
         "Why was Yoon Suk-Yeol granted observer status?"),
        # negated questions: "yes" and "no" as English replies mean them, of the question without its "not"
        ("Why?", Turn("Doesn't Macron support the Tokyo liaison office?", verdict="no", evidence=MACRON_SAID),
         "Why does Macron oppose the Tokyo liaison office?"),
        ("Why?", Turn("Is Japan not a member of NATO?", verdict="no", evidence=NOT_A_MEMBER),
         "Why is Japan not a member of NATO?"),
        ("Why?", Turn("Isn't Japan a member of NATO?", verdict="no"), "Why is Japan not a member of NATO?"),
        ("Why?", Turn("Won't NATO open an office in Tokyo?", verdict="no"),
         "Why will NATO not open an office in Tokyo?"),
        ("Why?", Turn("Don't the US and the UK support the office?", verdict="yes", evidence=SUPPORTERS),
         "Why do the US and the UK support the office?"),
        # no verdict, or one its evidence contradicts: both sides asked, neither stated
        ("Why?", Turn("Does Macron support the Tokyo liaison office?"),
         "Why does or doesn't Macron support the Tokyo liaison office?"),
        ("Why not?", Turn("Does Macron not support the Tokyo liaison office?"),
         "Why does or doesn't Macron support the Tokyo liaison office?"),
        ("Why?", Turn("Is Japan not a member of NATO?", verdict="yes", evidence=NOT_A_MEMBER),
         "Why is or isn't Japan a member of NATO?"),
        ("Why?", Turn("Doesn't Macron support the Tokyo liaison office?", verdict="yes", evidence=MACRON_SAID),
         "Why does or doesn't Macron support the Tokyo liaison office?"),
        ("Why?", Turn("Can NATO open an office in Tokyo?"), "Why can or can't NATO open an office in Tokyo?"),
    ],
)  # fmt: skip
def test_why_after_a_yes_no_question_asks_what_the_articles_say(question, previous, standalone):
    assert resolve_follow_up(question, [previous]) == standalone


@pytest.mark.parametrize(
    ("question", "previous", "standalone"),
    [
        ("And which oppose it?", Turn("Who supports the Tokyo liaison office?", "the United States"),
         "Which oppose the Tokyo liaison office?"),
        ("But who supports it?", Turn("Who opposes the Tokyo liaison office?", "President Emmanuel Macron"),
         "Who supports the Tokyo liaison office?"),
        ("So when did they meet?", Turn("Who did Kishida meet in Vilnius?", "Jens Stoltenberg"),
         "When did Kishida and Jens Stoltenberg meet in Vilnius?"),
        ("So, is it based in Tokyo?", Turn("What would the office do?", "facilitate consultations"),
         "Is the office based in Tokyo?"),
        ("And why?", Turn("Who opposes the Tokyo liaison office?", "President Emmanuel Macron"),
         "Why does President Emmanuel Macron oppose the Tokyo liaison office?"),
        ("But what about China?", Turn("Does France support the office?"), "Does China support the office?"),
        ("And who is Carl Schuster?", Turn("Who opposes the office?", "Macron"), "Who is Carl Schuster?"),
        # a bare name after "And"/"But" is an elliptical follow-up still
        ("And South Korea?", Turn("Did Japan attend the summit?"), "Did South Korea attend the summit?"),
        ("But Australia?", Turn("Did Japan attend the summit?"), "Did Australia attend the summit?"),
    ],
)  # fmt: skip
def test_a_leading_and_but_or_so_is_not_searched(question, previous, standalone):
    assert resolve_follow_up(question, [previous]) == standalone


VILNIUS = Turn("Who did Kishida meet at the start of the NATO summit in Vilnius?", "Jens Stoltenberg")


@pytest.mark.parametrize(
    ("question", "previous", "standalone"),
    [
        ("When did they shake hands?", VILNIUS,
         "When did Kishida and Jens Stoltenberg shake hands at the NATO summit in Vilnius?"),
        ("What did he say?", Turn("Who spoke after Kishida at the NATO summit?", "Jens Stoltenberg"),
         "What did Jens Stoltenberg say at the NATO summit?"),
        ("What did they discuss?", Turn("Who did Biden meet in Vilnius?", "President Yoon"),
         "What did Biden and President Yoon discuss in Vilnius?"),
        ("What did he say?", Turn("Who represented South Korea during the Vilnius summit?", "President Yoon"),
         "What did President Yoon say during the Vilnius summit?"),
        # a follow-up with a place, a time or a subject of its own, or one asking where, takes none
        ("Where did they shake hands?", VILNIUS, "Where did Kishida and Jens Stoltenberg shake hands?"),
        ("When did they shake hands in Tokyo?", VILNIUS, "When did Kishida and Jens Stoltenberg shake hands in Tokyo?"),
        ("When did they meet this year?", VILNIUS, "When did Kishida and Jens Stoltenberg meet this year?"),
        ("What did he say about Japan?", VILNIUS, "What did Jens Stoltenberg say about Japan?"),
        ("Did Biden meet them?", VILNIUS, "Did Biden meet Kishida and Jens Stoltenberg?"),
        # a phrase that names no place or occasion is none
        ("When did they shake hands?", Turn("Who did Kishida meet in the morning?", "Jens Stoltenberg"),
         "When did Kishida and Jens Stoltenberg shake hands?"),
    ],
)  # fmt: skip
def test_a_follow_up_keeps_the_place_or_occasion(question, previous, standalone):
    assert resolve_follow_up(question, [previous]) == standalone


def test_headings_and_bylines_are_never_quotable():
    for line in ["China and North Korea React", "Japanese Prime Minister Expected to Address East Asia Security Risks "
                 "at NATO Summit", "Jenny Li, Lynn Xu, and Reuters contributed to this report.", "By Duncan Bartlett",
                 "(Courtesy of NATO)"]:  # fmt: skip
        assert not is_quotable(line), line
    assert is_heading("China and North Korea React")
    assert is_quotable("China is also strongly opposed to the proposal.")


def test_a_quote_that_leans_on_the_sentence_before_takes_it_in():
    text = "Intro line.\nMacron has indicated that he opposes the plan. The reason given is that he believes so."
    start = text.index("The reason")
    quoter = Quoter(lambda _: text)
    assert text[quoter.lean_start("a", start) :].startswith("Macron has indicated")
    assert quoter.lean_start("a", text.index("Macron")) == text.index("Macron")  # a sentence that stands alone


# --- the turns, with the real reader and index -----------------------------------------------------


@pytest.mark.slow
def test_a_pronoun_takes_the_previous_answer(assistant):
    first, second = converse(assistant, "Who is NATO's Secretary General?", "What did he say about Japan?")
    assert "Stoltenberg" in first.short_answer.text
    assert second.standalone_question == "What did Jens Stoltenberg say about Japan?"
    assert "We highly value the partnership with Japan" in second.citations[0].quote


@pytest.mark.slow
def test_why_and_it_follow_the_conversation(assistant):
    first, why, supports = converse(assistant, "Who opposes the Tokyo liaison office?", "Why?", "Who supports it?")
    assert "Macron" in first.short_answer.text
    assert WHY_MACRON_OPPOSES.fullmatch(why.standalone_question)
    assert any(reason in why.citations[0].quote for reason in MACRON_REASONS)
    assert supports.standalone_question == "Who supports the Tokyo liaison office?"
    # whether the reader then quotes the supporters is the reader's test (tests/test_reader.py QUESTIONS)


@pytest.mark.slow
@pytest.mark.parametrize("question", ["What do the articles say about Mr Kishida?", "Tell me about South Korea's role",
                                      "What happened at the Vilnius summit?"])  # fmt: skip
def test_overviews_are_digests_of_distinct_cited_sentences(assistant, question):
    answer = assistant.ask(question)
    assert not answer.abstained and 2 <= len(answer.citations) <= 5
    check_citations(assistant, answer)
    check_markers(answer)
    assert {c.article_id for c in answer.citations} == set(SEED_IDS), "both articles say something about it"
    assert [c.marker for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    assert len({c.quote for c in answer.citations}) == len(answer.citations)
    assert not any(is_heading(c.quote) for c in answer.citations)


@pytest.mark.slow
def test_every_example_question_the_chat_offers_is_answered(assistant):
    examples = assistant.example_questions()
    assert examples
    for question in examples:
        answer = assistant.ask(question)
        assert not answer.abstained and answer.citations, question
        check_citations(assistant, answer)


@pytest.mark.slow
def test_summarize_a_named_article_quotes_its_lead(assistant):
    answer = assistant.ask("Summarize the Epoch Times article")
    assert {c.source for c in answer.citations} == {"The Epoch Times"}
    assert answer.citations[0].quote.startswith("Japanese Prime Minister Fumio Kishida will attend the NATO summit")
    both = assistant.ask("Summarize the articles")
    assert {c.article_id for c in both.citations} == set(SEED_IDS)
    assert not any(c.caption or is_heading(c.quote) for c in both.citations)
    assert assistant.ask("Summarize the New York Times article").abstained


@pytest.mark.slow
def test_mentions_are_counted_exactly_from_the_text(assistant):
    answer = assistant.ask("Is China mentioned?")
    assert answer.text.startswith("Yes, both articles mention “China”")
    for c in answer.citations:
        count = len(re.findall(r"(?<![\w-])China(?![\w-])", assistant.article(c.article_id).text, re.I))
        assert f"{count} times in “{c.title}”" in answer.text
        assert "China" in c.quote and not is_heading(c.quote)
    check_citations(assistant, answer)
    assert assistant.ask("Do both articles mention Macron?").text.startswith("Yes, both articles mention “Macron”")
    only_one = assistant.ask("Is Taiwan mentioned in both articles?")
    assert only_one.text.startswith("No, only 1 of the 2 articles mentions “Taiwan”")
    assert assistant.ask("Is Germany mentioned?").text == "No. None of the 2 articles mentions “Germany”."


@pytest.mark.slow
def test_each_name_of_a_mention_question_is_counted(assistant):
    answer = assistant.ask("Are China and Russia mentioned?")
    first, second = answer.text.split("\n")
    assert first.startswith("Yes, both articles mention “China”")
    assert second.startswith("Yes, both articles mention “Russia”")
    assert [c.marker for c in answer.citations] == [1, 2, 3, 4]
    check_markers(answer)


@pytest.mark.slow
def test_tell_me_more_quotes_what_was_not_quoted_yet(assistant):
    first, more = converse(assistant, "What do the articles say about Mr Kishida?", "Tell me more")
    assert more.standalone_question == "Tell me about Mr Kishida" and not more.abstained
    assert not {c.id for c in first.citations} & {c.id for c in more.citations}


@pytest.mark.slow
def test_yes_no_questions_quote_the_evidence(assistant):
    answer = assistant.ask("Has Japan supported Ukraine?")
    assert answer.text.startswith("Yes. ") and answer.verdict == "yes"
    assert "Japan has offered Ukraine strong diplomatic support" in answer.citations[0].quote
    assert assistant.ask("Is Lithuania a member of the EU?").abstained


@pytest.mark.slow
def test_a_photo_caption_is_quoted_with_its_label(assistant):
    answer = assistant.ask("When did Kishida and Stoltenberg shake hands in Tokyo?")
    assert "Jan. 31, 2023" in answer.short_answer.text
    caption = answer.citations[0]
    assert caption.caption and f"{caption.quote} [1] (photo caption)" in answer.text


@pytest.mark.slow
def test_a_body_sentence_is_quoted_before_a_photo_caption_that_says_the_same(assistant):
    # The caption above the first article ("... shake hands in Vilnius, at the start of the NATO summit ...") is
    # the reader's best span; the body's "attended ... summit in Vilnius, the capital of Lithuania" answers too.
    answer = assistant.ask("In which city was the 2023 NATO summit held?")
    assert answer.short_answer.text == "Vilnius"
    assert not any(c.caption for c in answer.citations), answer.text
    assert "(photo caption)" not in answer.text


@pytest.mark.slow
def test_a_sentence_that_leans_on_the_one_before_is_quoted_with_it(assistant):
    from qa.answering import Quoter

    # "The reason given is ..." says whose reason only with the sentence before it: both are quoted, so it reads alone
    article = assistant.article(SEED_IDS[0])
    start = article.text.index("The reason given is that he believes")
    end = article.text.index(".", start) + 1
    meta = {"article_id": article.id, "chunk_id": "", "version": article.version}
    quote = Quoter(assistant.article_text).cite(meta, start, end, article.text[start:end], 1, lean=True).quote
    assert quote.startswith("President Emmanuel Macron") and quote.endswith("transatlantic alliance.")
    for answer in (assistant.ask("Why does President Emmanuel Macron of France oppose the Tokyo liaison office?"),
                   assistant.ask("What is the reason Macron gives?")):  # fmt: skip
        assert not any(c.quote.startswith("The reason given") for c in answer.citations), answer.text


@pytest.mark.slow
def test_history_as_chat_messages(assistant):
    first = assistant.ask("Who opposes the Tokyo liaison office?")
    messages = [{"role": "user", "content": first.question},
                {"role": "assistant", "content": first.text, "answer": first.model_dump()}]  # fmt: skip
    assert WHY_MACRON_OPPOSES.fullmatch(assistant.ask("Why?", history=messages).standalone_question)


@pytest.mark.slow
def test_conversation_set_targets(assistant):
    conversations = load_conversations(ROOT / "tests" / "data" / "conversations.jsonl")
    assert len(conversations) >= 12 and sum(len(c.turns) for c in conversations) >= 40
    report = evaluate_conversations(assistant, conversations)
    assert report.turn_accuracy >= 0.9, report.misses_table()
    assert report.abstention_recall == 1.0, report.misses_table()
    assert report.headings_quoted == 0 and report.unlabelled_captions == 0


@pytest.mark.slow
def test_qa_chat_follows_the_conversation(run):
    result = run("chat", input="Who opposes the Tokyo liaison office?\nWhy?\n")
    assert result.returncode == 0, result.stderr
    shown = " ".join(result.stdout.split())  # the terminal output wraps long lines
    assert re.search("searched: " + WHY_MACRON_OPPOSES.pattern, shown)
    assert any(reason in shown for reason in MACRON_REASONS)


@pytest.mark.slow
def test_qa_eval_asks_a_conversation_file_turn_by_turn(run, tmp_path):
    turns = [{"question": "Who opposes the Tokyo liaison office?", "answers": ["Macron"]},
             {"question": "Why?", "answers": list(MACRON_REASONS)},
             {"question": "Who won the 2022 FIFA World Cup?", "answerable": False}]  # fmt: skip
    path = tmp_path / "conversation.jsonl"
    path.write_text(json.dumps({"cid": "office", "turns": turns}) + "\n", encoding="utf-8")
    result = run("eval", str(path), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["turns"] == 3 and report["turn_accuracy"] == 1.0 and report["abstention_recall"] == 1.0
