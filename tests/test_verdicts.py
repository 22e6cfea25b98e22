"""Yes/no verdicts (issue 31, item 3): "yes" / "no" only where the quoted evidence settles the question, and
never a wrong one. The sentences are written for these tests, news-like, some in the seed articles' manner."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from qa.verdicts import Evidence, Verdict, decide


@dataclass(frozen=True)
class Case:
    question: str
    evidence: tuple[Evidence, ...]
    expected: str | None  # "yes", "no" or None
    index: int = 0  # which evidence item settles it

    def __str__(self) -> str:
        return self.question


def case(question: str, *texts: str | tuple[str, str], expected: str | None, index: int = 0) -> Case:
    """A case; an evidence given as (text, context) carries its context."""
    evidence = tuple(Evidence(*t) if isinstance(t, tuple) else Evidence(t) for t in texts)
    return Case(question, evidence, expected, index)


YES = [
    case(
        "Did Kishida attend the NATO summit in Vilnius?",
        "When Japan's Prime Minister, Fumio Kishida attended the North Atlantic Treaty Organization's summit in "
        "Vilnius, he received a warm welcome.",
        expected="yes",
    ),
    case(
        "Has NATO opened a mission to South Korea?",
        "Elsewhere in Asia, NATO has opened a mission to South Korea.",
        expected="yes",
    ),
    case(
        "Did the central bank raise interest rates?",
        "The central bank raised interest rates by a quarter of a point on Thursday.",
        expected="yes",
    ),
    case(
        "Did Angela Merkel meet Joe Biden in Berlin?",
        "Former chancellor Angela Merkel met with President Joe Biden in Berlin on Friday.",
        expected="yes",
    ),
    case(
        "Does France oppose the new fishing quota?",
        "France strongly opposes the new fishing quota, its agriculture minister said.",
        expected="yes",
    ),
    case(
        "Was the rocket in the air for more than 70 minutes?",
        "Officials said that the rocket was in the air for more than 70 minutes.",
        expected="yes",
    ),
    case("Is Finland a member of NATO?", "Finland became a member of NATO in April 2023.", expected="yes"),
    case("Did Kenya win the relay?", "Kenya won the relay in a championship record time.", expected="yes"),
    case(
        "Did the strikers reject the pay offer?",
        "On Monday the strikers rejected the pay offer by a large majority.",
        expected="yes",
    ),
    case("Did Ms Ardern resign?", "Jacinda Ardern resigned as prime minister in January.", expected="yes"),
    case(
        "Did Stoltenberg welcome the deepening partnership with Seoul?",
        "And when Mr Stoltenberg met President Yoon, he welcomed the deepening partnership with Seoul.",
        expected=None,
    ),  # two people before "he": which one welcomed it is not read
    case(
        "Did the council approve the budget?",
        ("It approved the budget by nine votes to four.", "The city council met on Tuesday evening."),
        expected=None,
    ),  # "it" is no person's pronoun for a non-name subject: not resolved
    case(
        "Did Mr Sanchez call a snap election?",
        ("He called a snap election for July.", "Prime Minister Pedro Sanchez spoke after the local results."),
        expected="yes",
    ),  # "called" hedges ("called for") only where the question does not ask about it
    case(
        "Did Sanchez dissolve parliament?",
        ("He dissolved parliament on Monday.", "Prime Minister Pedro Sanchez spoke after the local results."),
        expected="yes",
    ),
    case("Is Japan not a member of NATO?", "Japan is not a member of NATO.", expected="no"),
    case(
        "Is this Kishida's second visit to a NATO summit?",
        "Mr. Kishida's participation at the NATO summit in Vilnius marks his second visit.",
        expected="yes",
    ),
    case(
        "Will Kishida attend the NATO summit in Lithuania?",
        "Prime Minister Fumio Kishida will attend the NATO summit in Lithuania on July 11, where he is expected "
        "to raise security in East Asia.",
        expected="yes",
    ),
    case(
        "Was Kishida the first Japanese leader to attend a NATO summit?",
        "Last year Mr Kishida became the first Japanese leader to attend a NATO summit.",
        expected="yes",
    ),
    case(
        "Have relations between Seoul and Tokyo improved?",
        "Relations between Seoul and Tokyo have markedly improved since President Yoon took office.",
        expected="yes",
    ),
    case(
        "Is it true that the plant closed in 2019?", "The plant closed in 2019 after years of losses.", expected="yes"
    ),
    case("Did the airline cut 2,000 jobs?", "The airline cut 2,000 jobs last year.", expected="yes"),
    case(
        "Did the rally take place?",
        "Thousands gathered in the square.",
        "The rally took place on Sunday.",
        expected="yes",
        index=1,
    ),
]

NO_NEGATION = [
    case(
        "Is Japan a member of NATO?",
        "Japan is not a member of NATO but Mr Kishida was invited to the meeting as an observer.",
        expected="no",
    ),
    case(
        "Is Sweden a member of the Commonwealth?",
        "Sweden, which is not a Commonwealth member, sent an observer.",
        expected="no",
    ),
    case("Did the senator vote for the bill?", "The senator did not vote for the bill.", expected="no"),
    case("Has Mr Lula visited Washington?", "Mr Lula has never visited Washington as president.", expected="no"),
    case(
        "Is Britain a member of the European Union?",
        "Britain is no longer a member of the European Union.",
        expected="no",
    ),
    case("Did Ukraine join NATO?", "Ukraine has not joined NATO, though it hopes to.", expected="no"),
    case("Did the minister attend the ceremony?", "The minister didn't attend the ceremony.", expected="no"),
    case("Did Brazil sign the treaty?", "Neither Brazil nor India signed the treaty.", expected=None),
    case("Did Brazil sign the treaty?", "Brazil refused to sign the treaty.", expected="no"),
    case(
        "Is Norway a member of the European Union?",
        "Norway, a non-member of the European Union, trades freely.",
        expected="no",
    ),
    case("Doesn't Japan belong to NATO?", "Japan does not belong to NATO.", expected="no"),
    case("Did the company pay a dividend?", "The company failed to pay a dividend for the third year.", expected="no"),
]

NO_CONTRARY = [
    case(
        "Does Macron support the NATO liaison office in Tokyo?",
        (
            "President Emmanuel Macron of France has indicated that he opposes the plan.",
            "In public, there was no mention of a proposal to establish a NATO liaison office in Tokyo.",
        ),
        expected="no",
    ),
    case(
        "Doesn't Macron support the NATO liaison office in Tokyo?",
        (
            "President Emmanuel Macron of France has indicated that he opposes the plan.",
            "In public, there was no mention of a proposal to establish a NATO liaison office in Tokyo.",
        ),
        expected="no",
    ),
    case("Does China support the proposal?", "China is also strongly opposed to the proposal.", expected="no"),
    case("Did the union accept the offer?", "The union rejected the offer on Friday.", expected="no"),
    case("Did the government ban the protest?", "The government allowed the protest to go ahead.", expected="no"),
    case("Did the Greens win the seat?", "The Greens lost the seat to Labour by 300 votes.", expected="no"),
    case("Did inflation rise in March?", "Inflation fell in March for the fourth month in a row.", expected="no"),
    case("Did unemployment increase last quarter?", "Unemployment decreased last quarter.", expected="no"),
    case("Did Qatar join OPEC?", "Qatar left OPEC in 2019.", expected="no"),
    case("Was the president present at the vote?", "The president was absent from the vote.", expected="no"),
    case("Did the museum open on Monday?", "The museum closed on Monday for repairs.", expected="no"),
    case("Did the ministry confirm the report?", "The ministry denied the report on Tuesday.", expected="no"),
    case("Does Germany favour the tariff?", "Germany is against the tariff, officials say.", expected="no"),
    case("Did the party agree to the coalition deal?", "The party refused the coalition deal.", expected="no"),
    case(
        "Does Mr Orban support the sanctions?",
        ("He has repeatedly rejected them.", "Hungarian Prime Minister Viktor Orban spoke in Budapest."),
        expected=None,
    ),  # "rejected" is no contrary of "support" in the table
    case(
        "Does Mr Orban support the sanctions?",
        ("He opposes them.", "Hungarian Prime Minister Viktor Orban spoke in Budapest about the sanctions."),
        expected="no",
    ),
    case("Did Spain vote against the resolution?", "Spain voted for the resolution.", expected=None),
]

NO_ORDINAL_NUMBER = [
    case(
        "Is this Kishida's first visit to a NATO summit?",
        "Mr. Kishida's upcoming participation at the NATO summit in Lithuania's capital of Vilnius marks his "
        "second visit, following his historic attendance last year as the first Japanese leader to attend a NATO "
        "summit.",
        expected="no",
    ),
    case("Is it the Pope's first trip to Africa?", "It is the Pope's third trip to Africa.", expected="no"),
    case("Did the pope visit Kenya for the first time?", "The pope visited Kenya for the second time.", expected="no"),
    case("Is this her first term as mayor?", "This is her first term as mayor.", expected="yes"),
    case("Did the flight last 12 hours?", "The flight lasted 14 hours.", expected="no"),
    case("Did the flight last more than 12 hours?", "The flight lasted more than 14 hours.", expected=None),
    case("Did the storm kill 12 people?", "The storm killed 12 people.", expected="yes"),
]

HEDGED = [
    case("Did Kishida attend the summit?", "Mr Kishida is expected to attend the summit.", expected=None),
    case(
        "Will NATO open an office in Tokyo?",
        "The military alliance is unlikely to agree to open an office in Tokyo.",
        expected=None,
    ),
    case("Did the bank cut rates?", "The bank may cut rates in June.", expected=None),
    case("Did the bank cut rates?", "The bank plans to cut rates in June.", expected=None),
    case("Did the minister resign?", "The minister reportedly resigned on Sunday.", expected=None),
    case("Did the firm sell its shipping arm?", "The firm is considering selling its shipping arm.", expected=None),
    case("Did Japan open a liaison office?", "Japan proposed to open a liaison office.", expected=None),
    case("Is Ukraine a member of NATO?", "The leaders debated whether Ukraine should be a NATO member.", expected=None),
    case("Did the talks collapse?", "The talks could collapse if neither side gives ground.", expected=None),
    case(
        "Did Mr Kishida strengthen cooperation with NATO?",
        "Mr. Kishida has sought to strengthen cooperation with NATO.",
        expected=None,
    ),
    case("Did the Prime Minister attend the dinner?", "The Prime Minister will attend the dinner.", expected=None),
    case("Did Mr Putin attend the summit?", "Mr Putin denied that he attended the summit.", expected=None),
]

OTHER_SUBJECT = [
    case("Does Macron support the plan?", "The United States and the United Kingdom support the plan.", expected=None),
    case("Does Biden support the plan?", "Biden said Macron opposes the plan.", expected=None),
    case("Does Macron oppose the plan?", "Macron said Biden opposes the plan.", expected=None),
    case("Did Yoon meet Stoltenberg?", "Stoltenberg met President Yoon on July 11th.", expected=None),
    case("Does Japan support Russia?", "Japan supports sanctions against Russia.", expected=None),
    case("Does Japan support Russia?", "Japan supports Ukraine against Russia.", expected=None),
    case("Did Biden meet Kishida?", "Biden met with President Yoon and Prime Minister Kishida.", expected=None),
    case("Is North Korea a member of the UN?", "South Korea is a member of the UN.", expected=None),
    case(
        "Does Macron support the plan?",
        ("He supports it.", "Macron opposes the plan. Mr Biden, however, is in favour of it."),
        expected=None,
    ),
    case("Does Macron support the plan?", "Biden, unlike Macron, supports the plan.", expected=None),
    case("Did Smith win the primary?", "Jones won the primary after Smith withdrew.", expected=None),
]

UNRELATED = [
    case("Did Kishida visit Kyiv?", "The communiqué described China as coercive.", expected=None),
    case("Did the rocket land in the sea?", "The rocket was in the air for more than 70 minutes.", expected=None),
    case("Did Macron meet Xi?", "Macron spoke to reporters in Paris.", expected=None),
    case("Is Japan a member of NATO?", "Japan has offered Ukraine strong diplomatic support.", expected=None),
    case("Has NATO opened a mission in Japan?", "NATO has opened a mission to South Korea.", expected=None),
    case(
        "Did the court acquit the former governor?", "The trial of the former governor began on Monday.", expected=None
    ),
    case("Did Kishida visit Kyiv?", "He said you visited Kyiv some months ago.", expected=None),
]

MULTI_PART = [
    case(
        "Does Macron oppose the plan, and does China oppose it too?",
        "Macron opposes the plan and China opposes it too.",
        expected=None,
    ),
    case("Do both articles say Kishida attended the summit?", "Kishida attended the summit.", expected=None),
    case("Is Japan or South Korea a member of NATO?", "Japan is not a member of NATO.", expected=None),
    case("Did more people vote than in 2019?", "Turnout rose sharply.", expected=None),
    case("Did Kishida and Yoon attend the summit?", "Kishida did not attend the summit.", expected=None),
    case("Did Kishida and Yoon attend the summit?", "Kishida and Yoon attended the summit.", expected="yes"),
    case("Can NATO open an office in Tokyo?", "NATO opened an office in Tokyo.", expected=None),
    case("Did anyone oppose the plan?", "Macron opposes the plan.", expected=None),
    case("Does Macron support or oppose the plan?", "Macron opposes the plan.", expected=None),
]

NEGATED_QUESTIONS = [
    case("Doesn't Macron support the plan?", "Macron supports the plan.", expected="yes"),
    case("Doesn't Macron support the plan?", "Macron opposes the plan.", expected="no"),
    case("Isn't Japan a member of NATO?", "Japan is not a member of NATO.", expected="no"),
    case("Didn't the senator vote for the bill?", "The senator voted for the bill on Tuesday.", expected="yes"),
    case("Does Macron not support the plan?", "Macron does not support the plan.", expected="no"),
    case("Is it true that Macron does not support the plan?", "Macron opposes the plan.", expected=None),
    case("Doesn't Macron oppose the plan?", "Macron does not oppose the plan.", expected="no"),
    case("Does Macron support the plan?", "Macron does not oppose the plan.", expected=None),
    case("Does Macron support the plan?", "It is not true that Macron supports the plan.", expected=None),
]

IDIOMS_AND_CONFLICTS = [
    case("Has cooperation been vital?", "Cooperation has never been more vital.", expected=None),
    case("Does Japan support Ukraine?", "Japan not only supports Ukraine but also hosts its refugees.", expected=None),
    case("Does Macron support the plan?", "Macron supports the plan.", "Macron opposes the plan.", expected=None),
    case(
        "Does Macron support the plan?",
        "The weather was fine.",
        "Macron has said he supports the plan.",
        expected="yes",
        index=1,
    ),
]

MORE = [
    case("Is Japan a NATO member?", "Japan is not a member of NATO.", expected="no"),
    case("Did the summit take place in Riga?", "The summit took place in Vilnius, not Riga.", expected="no"),
    case("Did the summit take place in Riga?", "The summit took place in Vilnius.", expected=None),
    case("Has the plan been approved?", "The plan was rejected in May.", expected="no"),
    case("Has the plan been approved?", "The plan was approved in May.", expected="yes"),
    case("Has the president signed the bill?", "The president has yet to sign the bill.", expected="no"),
    case("Is the rocket still in the air?", "The rocket is no longer in the air.", expected="no"),
    case(
        "Did Japan increase its defense budget by 10 percent?",
        "Japan increased its defense budget by 26 percent.",
        expected="no",
    ),
    case("Is the economy shrinking?", "The economy is growing, the statistics office said.", expected="no"),
    case("Is the economy shrinking?", "The economy is growing, but slowly.", expected=None),
    case("Is unemployment falling?", "Unemployment is rising again.", expected="no"),
    case("Did the firm make a profit?", "The firm made no profit.", expected="no"),
    case("Did Smith plead guilty?", "Smith pleaded not guilty.", expected="no"),
    case("Was Smith convicted?", "Smith was acquitted of all charges.", expected="no"),
    case("Did Kishida go to Vilnius?", "Kishida never went to Vilnius.", expected="no"),
    case("Did the senate pass the bill?", "The senate passed the bill, which the house did not.", expected="yes"),
    case("Did the house pass the bill?", "The senate passed the bill, which the house did not.", expected=None),
    case(
        "Is Vilnius the capital of Lithuania?", "Vilnius, the capital of Lithuania, hosted the summit.", expected="yes"
    ),
    case("Is Kaunas the capital of Lithuania?", "Vilnius, the capital of Lithuania, hosted the summit.", expected=None),
    case("Do the articles say Macron opposes the plan?", "Macron opposes the plan.", expected="yes"),
    case("Is Macron against the plan?", "Macron supports the plan.", expected="no"),
    case("Did Macron say he supports the plan?", "Macron said he opposes the plan.", expected="no"),
    case("Is security regional?", "That shows that security is not regional; security is global.", expected="no"),
    case("Is security global?", "That shows that security is not regional; security is global.", expected="yes"),
    case(
        "Did the ministry devote 10 pages to Taiwan?",
        "Last year, the ministry devoted 10 pages of its annual defense report to Taiwan.",
        expected="yes",
    ),
    case(
        "Did Zelenskyy meet NATO leaders?",
        "Volodymyr Zelenskyy, Ukraine's president, meets NATO leaders on Wednesday, July 12.",
        expected="yes",
    ),
]

# Sentences that hold the question's words but not its claim: each once gave a wrong verdict while this was built.
TRAPS = [
    case("Does Macron support the plan?", "Macron's critics support the plan.", expected=None),
    case("Does Macron support the plan?", "Supporters of Macron oppose the plan.", expected=None),
    case("Is Japan a member of NATO?", "Japan is a close partner, and NATO's members welcome it.", expected=None),
    case("Did the suspect arrest the police?", "Police arrested the suspect.", expected=None),
    case("Did the team lose the final?", "The team did not lose a game until the final.", expected=None),
    case("Did France lose the match?", "France won the match after losing the first set.", expected=None),
    case("Did the minister leave the party?", "The minister left the party conference early.", expected=None),
    case("Did the minister join the party?", "The minister left the party conference early.", expected=None),
    case("Did the first round end in a draw?", "The second round ended in a draw.", expected=None),
    case("Did Macron attend the summit?", "Macron missed the start of the summit.", expected=None),
    case(
        "Does Macron support the NATO office in Tokyo?",
        ("Macron supports the plan to expand in Europe.", "Biden proposed a NATO office in Tokyo."),
        expected=None,
    ),
    case("Did Kishida meet Stoltenberg?", "Kishida met Stoltenberg's deputy.", expected=None),
    case("Is Japan a member of NATO?", "Japan is a member of NATO's partnership programme.", expected=None),
    case("Is Japan a member of NATO?", "Japan is a member of NATO Plus.", expected=None),
    case("Is Japan a member of NATO?", '"Japan is a member of NATO," the minister wrongly claimed.', expected=None),
    case("Did the bill pass?", "It is not true that the bill failed.", expected=None),
    case("Did the company hire new staff?", "The company stopped hiring new staff.", expected=None),
    case("Did he visit Kyiv?", "Stoltenberg visited Kyiv.", expected=None),
    case("Did NATO welcome Kishida?", "NATO Secretary General Jens Stoltenberg welcomed Kishida.", expected=None),
    case("Did the deal collapse?", "The deal nearly collapsed.", expected=None),
    case("Does Japan support Russia?", "Japan supports the isolation of Russia.", expected=None),
    case("Did 10 people die?", "Two people died in the fire, and 10 were injured.", expected=None),
    case("Did Le Pen win?", "Macron beat Le Pen.", expected=None),
    case("Is the bridge closed?", "The bridge has reopened after repairs.", expected=None),
    case("Is the company profitable?", "The company is barely profitable.", expected=None),
    case("Did the ceasefire hold?", "The ceasefire held for a day but collapsed on Sunday.", expected=None),
]

CASES = YES + NO_NEGATION + NO_CONTRARY + NO_ORDINAL_NUMBER + HEDGED + OTHER_SUBJECT + UNRELATED + MULTI_PART + \
    NEGATED_QUESTIONS + IDIOMS_AND_CONFLICTS + MORE + TRAPS  # fmt: skip


@pytest.mark.parametrize("c", CASES, ids=str)
def test_verdict(c: Case) -> None:
    verdict = decide(c.question, c.evidence)
    assert (verdict.value if verdict else None) == c.expected, verdict
    if verdict:
        assert verdict.index == c.index and verdict.reason


def test_no_wrong_verdicts_over_the_table() -> None:
    """Over every case: no verdict contradicts the expected one (None where a verdict was due is only a miss)."""
    outcomes = [(c, decide(c.question, c.evidence)) for c in CASES]
    wrong = [(c.question, v) for c, v in outcomes if v and v.value != c.expected]
    given = sum(v is not None for _, v in outcomes)
    assert not wrong, wrong
    assert given >= sum(c.expected is not None for c in CASES) * 0.9  # and it does give the verdicts it should


def test_reasons_say_what_settled_it() -> None:
    macron = "Doesn't Macron support the plan?"
    assert decide(macron, [Evidence("Macron opposes the plan.")]) == Verdict("no", 0, "contrary: opposes")
    assert decide("Did Qatar join OPEC?", [Evidence("Qatar did not join OPEC.")]).reason == "negated: not"
    ordinal = decide("Is it his first visit?", [Evidence("It is his second visit.")])
    assert ordinal is None or ordinal.reason.startswith("ordinal")


def test_nothing_to_read() -> None:
    assert decide("Does Macron support the plan?", []) is None
    assert decide("", [Evidence("Macron supports the plan.")]) is None
    assert decide("Who supports the plan?", [Evidence("Macron supports the plan.")]) is None
    assert decide("Does Macron support the plan?", [Evidence("")]) is None


def test_evidence_is_a_frozen_value() -> None:
    e = Evidence("Macron opposes the plan.")
    assert e.context == "" and e == Evidence("Macron opposes the plan.")
    with pytest.raises(AttributeError):
        e.text = "changed"  # type: ignore[misc]
