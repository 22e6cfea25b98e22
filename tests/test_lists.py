"""List answers (issue 31, item 4): which questions ask for several things, every item of the coordination a
reader's span sits in, whether a sentence lists its items for the relation asked about, and merging the items of
several sentences. Pure functions: no index, no reader."""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.lists import asks_for_several, coordinated_items, item_key, merge_items, plays_role

# Sentences of the seed articles (seeds/000_*, seeds/001_*), verbatim.
SUPPORT = "However, the United States, the United Kingdom, and many other NATO members support it."
PARTNERS = (
    "The office would help NATO to facilitate consultations with its key Asia-Pacific partners—Australia, "
    "New Zealand, Japan, and South Korea—and act as a point of contact with other nations in the region."
)
VISIT = (
    "His visit, along with the leaders of South Korea, Australia, and New Zealand, comes as Japan increases "
    "defense spending to deter Chinese and Russian forces in the waters and skies around the country."
)
PROGRAM = (
    "At the upcoming meeting, Japan is expected to be included in NATO’s Individually Tailored Partnership "
    "Program, opening the way for cooperation on cybersecurity, space, and information sharing on China and "
    "Russia."
)
AREAS = "It would further strengthen cooperation, he said, in areas such as cyber defense and counterterrorism."
CHALLENGES = (
    "The communiqué issued during the summit on July 11 stated that China challenges the interests, "
    "security and values of NATO countries."
)
REBUTTAL = (
    "It said the communiqué disregarded basic facts, distorted China's position and policies, and "
    "deliberately discredited China."
)
OFFICE = (
    "In public, there was no mention of a proposal to establish a NATO liaison office in Tokyo. President "
    "Emmanuel Macron of France has indicated that he opposes the plan."
)
SEPARATORS = {"", ",", "and", "or", "nor", "as", "well", "including"}


def items(text: str, span: str, nth: int = 0) -> list[str]:
    """The items coordinated_items gives for the nth occurrence of span, checked to be exact and trimmed."""
    start = -1
    for _ in range(nth + 1):
        start = text.index(span, start + 1)
    found = coordinated_items(text, start, start + len(span))
    assert found == sorted(found), "items come in text order"
    for s, e in found:
        item = text[s:e]
        assert item == item.strip(" ,;:") and item, f"item {item!r} is not trimmed"
        assert not item.endswith(".") or re.search(r"(?:\b[A-Z]|\bCo)\.$", item), f"{item!r}: a sentence's stop"
        assert item.split()[0].lower() not in SEPARATORS and item.split()[-1].lower() not in SEPARATORS, item
    return [text[s:e] for s, e in found]


# ---------------------------------------------------------------------------------------------------------------
# asks_for_several


@pytest.mark.parametrize("question", [
    "Which countries support the liaison office?",
    "What areas will NATO and Japan cooperate in?",
    "In which fields will Japan and NATO work together?",
    "Which NATO members back the office?",
    "What European countries back the plan?",
    "Which two countries sent observers?",
    "Which of the leaders attended the summit?",
    "What threats does China pose?",
    "Who are the members of the Quad?",
    "What are the areas of cooperation?",
    "What were the results of the summit?",
    "List the partners NATO will consult.",
    "Please list the observers.",
    "Name the countries that oppose the plan.",
    "Can you name the Asia-Pacific partners?",
    "Who opposes the plan?",
    "Who supported the proposal?",
    "Who is opposed to the office in Tokyo?",
    "Who was invited to the summit?",
    "Who else opposes it?",
    "Tell me which leaders attended the summit in Vilnius.",
])  # fmt: skip
def test_asks_for_several(question):
    assert asks_for_several(question)


@pytest.mark.parametrize("question", [
    "Who is the Secretary General?",  # a role one person holds
    "Who was the first Japanese leader to attend a NATO summit?",
    "Who said the rocket was in the air for more than 70 minutes?",  # said: one speaker asked for
    "Who did Biden meet in Vilnius?",
    "Which country hosted the summit?",
    "Which crisis worries Japan?",
    "What did Stoltenberg say about Japan?",
    "What is NATO's remit?",
    "What news did the envoy bring?",  # "news" is not a plural
    "Name the Secretary General of NATO.",
    "How many countries attended?",  # a count, not a list
    "When did Kishida arrive in Vilnius?",
])  # fmt: skip
def test_asks_for_one(question):
    assert not asks_for_several(question)


# ---------------------------------------------------------------------------------------------------------------
# coordinated_items: seed sentences


def test_the_supporters_of_the_office_from_any_of_their_items():
    expected = ["the United States", "the United Kingdom", "many other NATO members"]
    for span in expected:
        assert items(SUPPORT, span) == expected


def test_a_list_between_dashes_stops_at_them():
    assert items(PARTNERS, "Japan") == ["Australia", "New Zealand", "Japan", "South Korea"]


def test_the_first_item_starts_inside_a_prepositional_phrase():
    assert items(VISIT, "Australia") == ["South Korea", "Australia", "New Zealand"]
    assert items(VISIT, "Chinese") == ["Chinese", "Russian"]
    assert items(VISIT, "the waters") == ["the waters", "skies"]
    assert items(VISIT, "Japan") == ["Japan"]  # "comes as Japan increases ...": no list


def test_items_after_a_preposition_and_a_nested_coordination():
    expected = ["cybersecurity", "space", "information sharing"]
    assert items(PROGRAM, "space") == expected
    assert items(PROGRAM, "cybersecurity") == expected
    assert items(PROGRAM, "Russia") == ["China", "Russia"]


def test_such_as_opens_the_list():
    assert items(AREAS, "cyber defense") == ["cyber defense", "counterterrorism"]
    observers = (
        "At the same time, observer countries - such as Japan and South Korea - have no direct say in the matter."
    )
    assert items(observers, "South Korea") == ["Japan", "South Korea"]


def test_a_lowercase_list_with_a_determiner_and_of():
    assert items(CHALLENGES, "security") == ["the interests", "security", "values of NATO countries"]


def test_a_plural_noun_after_a_name_before_the_verb():
    said = 'President Yoon said close cooperation between NATO members and Indo-Pacific countries has "never been"'
    assert items(said, "NATO members") == ["NATO members", "Indo-Pacific countries"]


def test_coordinated_verb_phrases_give_no_noun_list():
    assert items(REBUTTAL, "basic facts") == ["basic facts"]
    assert items(REBUTTAL, "China's position") == ["China's position", "policies"]


# ---------------------------------------------------------------------------------------------------------------
# coordinated_items: own sentences, one case each


@pytest.mark.parametrize(("text", "span", "expected"), [
    # Oxford comma or not
    ("Ministers discussed trade, security, and cyber defence.", "trade", ["trade", "security", "cyber defence"]),
    ("Japan supports trade, security and cyber defence.", "security", ["trade", "security", "cyber defence"]),
    ("Ministers discussed trade, security and cyber defence.", "security", ["trade", "security", "cyber defence"]),
    ("Canada, Italy and Spain back the bid.", "Spain", ["Canada", "Italy", "Spain"]),
    ("Canada, Italy, and Spain back the bid.", "Italy", ["Canada", "Italy", "Spain"]),
    # two items; "or", "nor"; "both A and B"; "A as well as B"
    ("Rain or snow is expected in Hokkaido.", "snow", ["Rain", "snow"]),
    ("Both Japan and South Korea sent observers.", "Japan", ["Japan", "South Korea"]),
    ("Both Japan and South Korea sent observers.", "South Korea", ["Japan", "South Korea"]),
    ("Observers came from both Japan and South Korea.", "South Korea", ["Japan", "South Korea"]),
    ("Japan as well as Australia attended the summit.", "Australia", ["Japan", "Australia"]),
    ("The deal covers Canada, Mexico, as well as the United States.", "Canada",
     ["Canada", "Mexico", "the United States"]),
    ("Neither Paris nor Berlin commented.", "Berlin", ["Paris", "Berlin"]),
    # items with "of" inside them, titles and abbreviations
    ("He met the Prime Minister of Japan, the President of France and Olaf Scholz.", "Olaf Scholz",
     ["the Prime Minister of Japan", "the President of France", "Olaf Scholz"]),
    ("He met the Prime Minister of Japan, the President of France and Olaf Scholz.", "the President of France",
     ["the Prime Minister of Japan", "the President of France", "Olaf Scholz"]),
    ("Talks with the Prime Minister of the United Kingdom and the Chancellor of Germany ended late.",
     "the Chancellor of Germany", ["the Prime Minister of the United Kingdom", "the Chancellor of Germany"]),
    ("Officials from the U.S., the U.K. and Canada attended.", "the U.K.", ["the U.S.", "the U.K.", "Canada"]),
    ("Japan, Australia, India and the U.S. formed the Quad.", "India", ["Japan", "Australia", "India", "the U.S."]),
    ("Exports to Toyota Motor Co., Honda and Nissan fell.", "Honda", ["Toyota Motor Co.", "Honda", "Nissan"]),
    ("Prices rose 3.5%, 4.1% and 2,000 yen.", "4.1%", ["3.5%", "4.1%", "2,000 yen"]),
    # the reader's span covering several items, or with separators around it
    ("Ministers discussed trade, security and cyber defence.", "security and cyber defence",
     ["trade", "security", "cyber defence"]),
    ("Ministers discussed trade, security and cyber defence.", ", security and",
     ["trade", "security", "cyber defence"]),
    # a title before a name, an adjective before names and their noun
    ("NATO Secretary General Jens Stoltenberg and Japanese Prime Minister Fumio Kishida shake hands in Vilnius",
     "Jens Stoltenberg", ["Jens Stoltenberg", "Japanese Prime Minister Fumio Kishida"]),
    ("Canada and senior Japanese officials met.", "Canada", ["Canada", "senior Japanese officials"]),
    ("Exports to Canada and the European Union rose.", "Canada", ["Canada", "the European Union"]),
    # an opening adverbial is not an item
    ("In Vilnius, Japan, South Korea and Australia signed the statement.", "South Korea",
     ["Japan", "South Korea", "Australia"]),
    ("Last year, Japan, South Korea and Australia signed the statement.", "Japan",
     ["Japan", "South Korea", "Australia"]),
    ("Meanwhile, Canada and Mexico raised tariffs.", "Mexico", ["Canada", "Mexico"]),
    # ... but a fronted phrase holding the list keeps its first item
    ("In Japan, Korea and Australia, voters went to the polls.", "Korea", ["Japan", "Korea", "Australia"]),
])  # fmt: skip
def test_coordinated_items(text, span, expected):
    assert items(text, span) == expected


@pytest.mark.parametrize(("text", "span"), [
    ("Stoltenberg, the Secretary General, said so.", "Stoltenberg"),  # an appositive: no "and"
    ("Mr Biden met with President Yoon and Prime Minister Kishida in Vilnius.", "Mr Biden"),  # the subject
    ("Kishida attended the summit, met Stoltenberg and visited Kyiv.", "Stoltenberg"),  # verb phrases
    ("Kishida attended the summit, met Stoltenberg and visited Kyiv.", "the summit"),
    ("Japan supports the plan, and Korea opposes it.", "Japan"),  # two clauses
    ("Kishida met Stoltenberg and Yoon said the talks went well.", "Stoltenberg"),
    ("Kishida met Stoltenberg and Yoon said the talks went well.", "Yoon"),
    ("The talks ended and Macron left for Paris.", "Macron"),
    ("Macron, who opposes the plan, spoke first.", "Macron"),
    ("Japan is not a member of NATO.", "Japan"),
    ("He met the Prime Minister of Japan, the President of France and Olaf Scholz.", "Japan"),  # inside an item
    ("Duncan Bartlett is the Diplomatic Correspondent for JAPAN Forward and a Research Associate at the SOAS.",
     "JAPAN Forward"),
    (SUPPORT, "However"),
    ("Macron opposes a move that could irritate China and open NATO up to accusations.", "China"),  # verb + name
])  # fmt: skip
def test_a_span_in_no_list_comes_back_alone(text, span):
    start = text.index(span)
    assert coordinated_items(text, start, start + len(span)) == [(start, start + len(span))]


@pytest.mark.parametrize(("text", "span", "expected"), [
    ("The deal covers steel, aluminium, and cars; farm goods are excluded.", "cars", ["steel", "aluminium", "cars"]),
    ("The deal covers steel, aluminium, and cars; farm goods and rice are excluded.", "farm goods",
     ["farm goods", "rice"]),
    ("Three partners: Japan, Korea and Australia.", "Korea", ["Japan", "Korea", "Australia"]),
    ("The summit (attended by Japan and Korea) and the forum ended.", "Japan", ["Japan", "Korea"]),
    ("The summit (attended by Japan and Korea) and the forum ended.", "the forum", ["the forum"]),
    ("Japan and Korea attended. Canada and Mexico did not.", "Korea", ["Japan", "Korea"]),
    ("Japan and Korea attended. Canada and Mexico did not.", "Canada", ["Canada", "Mexico"]),
    ('He called the moves "coercive" and the rhetoric hostile, and Japan agreed.', "Japan", ["Japan"]),
])  # fmt: skip
def test_no_list_runs_across_a_clause_boundary(text, span, expected):
    assert items(text, span) == expected


def test_the_second_occurrence_is_its_own_list():
    text = "Japan and Korea met; later Japan, Canada and Mexico signed."
    assert items(text, "Japan", nth=0) == ["Japan", "Korea"]
    assert items(text, "Japan", nth=1) == ["Japan", "Canada", "Mexico"]


# A property: in any sentence built from a frame and a list, every item's span gives back the whole list, exactly.
NAMES = [
    "the United States",
    "New Zealand",
    "the Prime Minister of Japan",
    "South Korea",
    "Canada",
    "the U.K.",
    "President Yoon Suk-Yeol",
    "the European Union",
    "many other NATO members",
    "Japan’s coast guard",
]
NOUNS = [
    "trade",
    "security",
    "cyber defence",
    "space",
    "the interests of the alliance",
    "energy prices",
    "information sharing",
    "counterterrorism",
]
FRAMES = [
    ("", " attended the summit."),
    ("Officials from ", " attended."),
    ("However, ", " support it."),
    ("He met ", " in Vilnius."),
    ("The talks covered ", "."),
    ("Talks with ", " ended late."),
    ("It named partners such as ", "; others declined."),
    ("The leaders — ", " — agreed."),
    ("Japan supports ", "."),
    ("NATO will consult ", " and act as a point of contact."),
    ("In Vilnius, ", " signed the statement."),
    ("The plan, backed by ", ", passed."),
]


@settings(max_examples=int(os.environ.get("LISTS_EXAMPLES", "200")), deadline=None)
@given(
    pool=st.sampled_from([NAMES, NOUNS]),
    data=st.data(),
    frame=st.sampled_from(FRAMES),
    oxford=st.booleans(),
    conj=st.sampled_from(["and", "or", "as well as"]),
)
def test_every_item_gives_the_whole_list(pool, data, frame, oxford, conj):
    chosen = data.draw(st.lists(st.sampled_from(pool), min_size=2, max_size=5, unique=True))
    head = ", ".join(chosen[:-1]) + ("," if oxford and len(chosen) > 2 else "")
    listed = f"{head} {conj} {chosen[-1]}"
    text = frame[0] + listed + frame[1]
    offset, expected, at = len(frame[0]), [], len(frame[0])
    for item in chosen:
        at = text.index(item, at)
        expected.append((at, at + len(item)))
        at += len(item)
    assert text[offset:].startswith(chosen[0])
    for s, e in expected:
        found = coordinated_items(text, s, e)
        assert found == expected, (text, text[s:e], [text[a:b] for a, b in found])
        assert [text[a:b] for a, b in found] == chosen


# ---------------------------------------------------------------------------------------------------------------
# plays_role


def test_the_supporters_not_the_partners_to_consult():
    question = "Which countries support the liaison office?"
    assert plays_role(question, SUPPORT)
    assert not plays_role(question, PARTNERS)  # the countries NATO would consult: another role
    assert plays_role("List the partners NATO will consult.", PARTNERS)


def test_the_opponents_are_not_the_supporters():
    assert not plays_role("Who opposes the liaison office?", SUPPORT)
    assert plays_role("Who opposes the liaison office?", "China is also strongly opposed to the proposal.")
    assert plays_role("Which countries are against the plan?", "Opponents of the plan include Hungary and Turkey.")
    assert not plays_role("Which countries are against the plan?", "Canada and Italy support the plan.")


@pytest.mark.parametrize("sentence", [
    "Supporters of the plan include Canada, Italy and Spain.",
    "Backing for the plan came from Canada and Italy.",
    "Canada and Italy spoke in support of the plan.",
    "Canada and Italy have supported the plan since May.",
    "Canada and Italy favour the plan.",
    "The plan was endorsed by Canada and Italy.",
])  # fmt: skip
def test_close_forms_of_the_predicate(sentence):
    assert plays_role("Which countries support the plan?", sentence)


def test_a_negated_predicate_is_not_the_role():
    assert not plays_role("Which countries support the plan?", "Canada and Italy do not support the plan.")
    assert not plays_role("Which countries support the plan?", "Canada and Italy have never backed the plan.")
    assert not plays_role("Which countries support the plan?", "Canada and Italy don't support the plan.")


def test_with_the_lists_span_the_predicate_must_be_near_it_in_the_same_clause():
    sentence = "France opposes the plan, while the United States, Britain and Canada support it."
    listed = (sentence.index("the United States"), sentence.index("Canada") + len("Canada"))
    assert plays_role("Who supports the plan?", sentence, span=listed)
    assert not plays_role("Who opposes the plan?", sentence, span=listed)
    assert plays_role("Who opposes the plan?", sentence)  # without the span it cannot tell
    far = (
        "Canada and Italy, two founding members of the alliance whose troops have served in many of its "
        "missions over the decades, back it."
    )
    span = (0, far.index(","))
    assert not plays_role("Which countries back the plan?", far, span=span)


def test_with_context_the_question_object_must_be_there():
    question = "Which countries support the liaison office?"
    aid = "Japan has offered Ukraine strong diplomatic support."
    assert plays_role(question, aid)  # the stem alone cannot tell what is supported
    assert not plays_role(question, aid, "Volodymyr Zelenskyy meets NATO leaders. " + aid)
    assert plays_role(question, SUPPORT, OFFICE)  # "it" is the office named two sentences before


def test_relations_named_by_nouns_and_questions_without_one():
    assert plays_role("What are the areas of cooperation?", AREAS)
    assert plays_role("In which areas will NATO and South Korea cooperate?", AREAS)
    assert not plays_role("In which areas will NATO and South Korea cooperate?", PARTNERS)
    assert plays_role("Who are the members of the Quad?", "Quad members Japan, India and Australia met.")
    assert plays_role("Which countries were mentioned?", PARTNERS)  # nothing to check


# ---------------------------------------------------------------------------------------------------------------
# merge_items


def test_merge_items_keeps_the_first_of_each_normalised_item():
    groups = [["the United States", "Japan"], ["United States", "JAPAN", "the UK", "the U.K."], ["the US"]]
    assert merge_items(groups) == ["the United States", "Japan", "the UK", "the US"]


def test_merge_items_with_citations():
    found = [
        [("a1", 10, 27, "the United States"), ("a1", 29, 47, "the United Kingdom")],
        [("a2", 5, 18, "United States"), ("a2", 40, 46, "France")],
    ]
    merged = merge_items(found, text=lambda c: c[3])
    assert [c[3] for c in merged] == ["the United States", "the United Kingdom", "France"]
    assert merged[0][0] == "a1"


def test_item_key():
    assert item_key("  The  U.S. ") == item_key("us") == "us"
    assert item_key("Japan’s coast guard") == item_key("japan's coast guard")
    assert item_key("the United States") != item_key("the US")
    assert merge_items([[""], ["  "]]) == []


@settings(max_examples=int(os.environ.get("LISTS_EXAMPLES", "200")), deadline=None)
@given(
    text=st.lists(
        st.sampled_from(list("ab AB,.;—'’-") + ["and ", "or ", "the ", "of ", "such as ", "Mr. "]), max_size=40
    ).map("".join),
    data=st.data(),
)
def test_any_span_of_any_text_gives_spans_inside_it(text, data):
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    found = coordinated_items(text, start, end)
    assert found and all(0 <= s <= e <= len(text) for s, e in found)
    assert len(found) == 1 or all(text[s:e].strip() == text[s:e] and s < e for s, e in found)


@pytest.mark.parametrize("question", ["", "?", "Which", "Who", "List", "What are"])
def test_degenerate_questions(question):
    asks_for_several(question)
    assert plays_role(question, "") in (True, False)
    assert plays_role(question, "Japan and Korea back it.", "context", span=(0, 5)) in (True, False)
