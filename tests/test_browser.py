"""End-to-end test of the Streamlit chat (ui/app.py) in a real headless Chromium.

Uses Debian's ``chromium`` and ``chromium-driver`` packages (``make browser``), never a test tool's own
browser download. The app is started on a loopback port that it picks itself (``--server.port 0``) and
prints, with a fresh index built from ``seeds/``. Screenshots and timings are written to
``test-output/browser/``. Timings are logged, never asserted: timing targets live in ``bench/``. Every wait
is for a real condition, bounded by ``STUCK`` so that only a stuck run fails, not a slow or busy machine.
"""

from __future__ import annotations

import re
import statistics

import pytest

from .browser_support import (
    DIALOG,
    OUTPUT_DIR,
    PROJECT_ROOT,
    ask,
    close_dialog,
    streamlit_app,
    wait_for_chat_input,
)
from .conftest import MACRON_REASONS, STUCK, WHY_MACRON_OPPOSES

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FIRST_QUESTION = "How long was the North Korean rocket in the air?"
MORE_QUESTIONS = [
    "Which French president opposes a NATO liaison office in Tokyo?",
    "On what date did Japanese envoy Koji Tomita speak about the liaison office?",
    "What does the Individually Tailored Partnership Program open the way for?",
    "How many pages of its annual defense report did Japan devote to Taiwan?",
    "When did Stoltenberg meet President Yoon?",
]


def test_chat_answers_with_citation_and_opens_article(browser, app_server):
    from selenium.webdriver.common.by import By

    driver = browser
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)

    # --- cold start: the page is ready when the chat input is there (the index is built before it) -----------
    cold_start = wait_for_chat_input(driver, app_server)
    print(f"page cold start to ready, building the index: {cold_start:.2f} s "
          f"(server healthy after {app_server['server_ready']:.2f} s)")  # fmt: skip

    # --- first question: cited answer --------------------------------------------------------------------
    first_time, first_rendered, answer_text = ask(driver, FIRST_QUESTION, expect="70 minutes")
    print(f"first answer: '70 minutes' shown after {first_time:.2f} s, message rendered after {first_rendered:.2f} s:"
          f" {answer_text[:200]!r}")  # fmt: skip
    driver.save_screenshot(str(OUTPUT_DIR / "chat.png"))
    assert "70 minutes" in answer_text
    page_text = driver.find_element(By.TAG_NAME, "body").text
    assert "[1]" in page_text, "no citation marker [1] on the page"
    assert "JAPAN Forward" in page_text, "the cited source JAPAN Forward is not on the page"

    # --- open the cited article: a dialog with the cited sentence highlighted and scrolled into view -------
    frame = open_first_article(driver)
    dialog_text = driver.find_element(By.CSS_SELECTOR, DIALOG).text
    assert "JAPAN Forward" in dialog_text, f"dialog does not show the article's source: {dialog_text[:300]!r}"
    # The page's own script scrolls the mark into view on load; wait for it (the geometry is checked there).
    cited = cited_passage_in_view(driver, frame)
    print(f"cited passage at {cited}")
    assert "70 minutes" in cited["text"]
    assert cited["text"].strip() in answer_text, "the highlighted passage is not the sentence the answer quotes"
    driver.save_screenshot(str(OUTPUT_DIR / "answer.png"))

    # --- warm questions ------------------------------------------------------------------------------------
    close_dialog(driver)
    warm: list[tuple[str, float, float, str]] = []
    for question in MORE_QUESTIONS:
        visible, seconds, text = ask(driver, question)
        first_line = text.splitlines()[0][:100]
        print(f"warm answer {seconds:.2f} s (text after {visible:.2f} s): {question!r} -> {first_line!r}")
        warm.append((question, visible, seconds, text))
    median = statistics.median(s for _, _, s, _ in warm)
    print(f"warm answer median {median:.2f} s")
    driver.save_screenshot(str(OUTPUT_DIR / "conversation.png"))

    lines = [
        "# seconds; an answer counts from pressing Enter until its chat message is completely rendered",
        f"server healthy: {app_server['server_ready']:.2f} s",
        f"cold start to ready page, index built on the way: {cold_start:.2f} s",
        f"first answer: {first_rendered:.2f} s (answer text shown after {first_time:.2f} s)\t{FIRST_QUESTION}",
        *(f"warm answer: {s:.2f} s (answer text shown after {v:.2f} s)\t{q}" for q, v, s, _ in warm),
        f"warm answer median: {median:.2f} s",
    ]
    (OUTPUT_DIR / "timings.txt").write_text("\n".join(lines) + "\n")


# The conversation (c02 of tests/data/conversations.jsonl): a question, an elliptical "Why?" and a pronoun
# follow-up, each with the answers it accepts (any one) and the line that shows what it searched for (the subject
# comes from the first answer, in the words of the sentence it quotes).
CONVERSATION = [
    ("Who opposes the Tokyo liaison office?", ["Macron"], ""),
    ("Why?", MACRON_REASONS, "Searched: " + WHY_MACRON_OPPOSES.pattern),
    # the reader's answer to this one is a known miss (tests/test_reader.py): the turn checks what was searched
    ("Who supports it?", [], r"Searched: Who supports the Tokyo liaison office\?"),
]


def test_a_three_turn_conversation(browser, app_server):
    """Follow-ups are answered from the conversation, and the page shows what was searched; no "Deploy"."""
    from selenium.webdriver.common.by import By

    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    wait_for_chat_input(browser, app_server)  # a new page: a new session, an empty chat
    for question, answers, searched in CONVERSATION:
        _, seconds, text = ask(browser, question)
        print(f"{question!r} -> {text.splitlines()[0][:120]!r} ({seconds:.2f} s)")
        assert not answers or any(answer in text for answer in answers), f"none of {answers} in {text[:300]!r}"
        assert re.search(searched, text), f"no {searched!r} line in {text[:300]!r}"
    browser.save_screenshot(str(OUTPUT_DIR / "three-turns.png"))
    assert not [
        e for e in browser.find_elements(By.CSS_SELECTOR, '[data-testid="stAppDeployButton"]') if e.is_displayed()
    ]
    assert "Deploy" not in browser.find_element(By.TAG_NAME, "body").text


def test_page_cold_start_with_a_built_index(browser, tmp_path):
    """A new server on an index that exists: the page gets ready (the time a returning user waits is logged)."""
    from qa import Assistant, Settings

    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    Assistant(Settings(index_dir=tmp_path / "index")).index([PROJECT_ROOT / "seeds"])
    with streamlit_app(tmp_path / "index", tmp_path / "streamlit.log") as app:
        seconds = wait_for_chat_input(browser, app)
    print(f"page cold start to ready, index already built: {seconds:.2f} s")
    with (OUTPUT_DIR / "timings.txt").open("a") as f:
        f.write(f"cold start to ready page, index already built: {seconds:.2f} s\n")


def open_first_article(driver):
    """Click the first "Open article" and return the dialog's iframe once it shows."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    open_button = WebDriverWait(driver, STUCK).until(
        EC.element_to_be_clickable((By.XPATH, "//button[normalize-space(.)='Open article']"))
    )
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", open_button)
    open_button.click()
    return WebDriverWait(driver, STUCK).until(EC.visibility_of_element_located((By.CSS_SELECTOR, f"{DIALOG} iframe")))


def cited_passage_in_view(driver, frame) -> dict:
    """Inside the dialog's iframe: wait until the cited passage is scrolled into the article's box."""
    from selenium.webdriver.support.ui import WebDriverWait

    geometry_js = (
        "const r = document.getElementById('cited').getBoundingClientRect();"
        "return {top: r.top, bottom: r.bottom, height: window.innerHeight, text: document.getElementById('cited').innerText};"
    )
    driver.switch_to.frame(frame)
    try:
        return WebDriverWait(driver, STUCK, poll_frequency=0.1).until(
            lambda d: (g := d.execute_script(geometry_js)) and 0 <= g["top"] < g["height"] and g,
            "the cited passage is not scrolled into view",
        )
    finally:
        driver.switch_to.default_content()


def test_on_a_phone_the_article_dialog_shows_its_title_and_close_button(browser, app_server):
    """At 390x844 the dialog opens with its title and close button on screen and the cited passage scrolled into
    view in its own box; and a whole session (a question, a card, the dialog) logs no deprecation warning."""
    from selenium.webdriver.common.by import By

    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    size = browser.get_window_size()
    browser.set_window_size(390, 844)
    try:
        wait_for_chat_input(browser, app_server)
        _, _, text = ask(browser, "When did Kishida and Stoltenberg shake hands in Tokyo?", expect="Jan. 31, 2023")
        browser.save_screenshot(str(OUTPUT_DIR / "answer-390.png"))
        assert "Photo caption:" in text and "(photo caption)" not in text
        frame = open_first_article(browser)
        passage = cited_passage_in_view(browser, frame)
        assert "Jan. 31, 2023" in passage["text"]
        browser.save_screenshot(str(OUTPUT_DIR / "dialog-390.png"))
        viewport = browser.execute_script("return {width: window.innerWidth, height: window.innerHeight};")
        for what, selector in (("close button", f'{DIALOG} button[aria-label="Close"]'), ("title", f"{DIALOG} h4")):
            box = browser.execute_script("return arguments[0].getBoundingClientRect().toJSON();",
                                         browser.find_element(By.CSS_SELECTOR, selector))  # fmt: skip
            assert 0 <= box["top"] and box["bottom"] <= viewport["height"], f"the dialog's {what} is off screen: {box}"
            assert 0 <= box["left"] and box["right"] <= viewport["width"], f"the dialog's {what} is off screen: {box}"
        close_dialog(browser)
    finally:
        browser.set_window_size(size["width"], size["height"])
    log = app_server["log"].read_text(errors="replace")
    warnings = [
        line for line in log.splitlines() if re.search(r"deprecat|will be removed|please replace", line, re.IGNORECASE)
    ]
    assert not warnings, warnings


def test_an_overview_has_one_card_per_article_and_an_abstention_folds_its_passages_away(browser, app_server):
    """Four quotes from one article make one card; the citation id is behind "Copy citation"; the closest passages
    of an abstention are folded under "Closest passages"."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    wait_for_chat_input(browser, app_server)
    _, _, text = ask(browser, "What do the articles say about South Korea?")
    cards = text.count("Open article")  # a button per card
    markers = set(re.findall(r"\[(\d+)\]", text))
    print(f"overview: {len(markers)} quotes in {cards} cards")
    assert 1 <= cards < len(markers)  # one card per article, not one per quote
    assert not re.search(r"\w+:\d+-\d+@[0-9a-f]+", text), "a citation id is printed on the page"
    popover = browser.find_elements(By.XPATH, "//button[contains(normalize-space(.), 'Copy citation')]")[0]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", popover)
    popover.click()
    code = WebDriverWait(browser, STUCK).until(
        EC.visibility_of_element_located((By.CSS_SELECTOR, '[data-testid="stPopoverBody"] code'))
    )
    assert re.fullmatch(r"\w+:\d+-\d+@[0-9a-f]+", code.text.strip()), code.text
    browser.save_screenshot(str(OUTPUT_DIR / "overview.png"))
    popover.click()

    _, _, text = ask(browser, "Who won the 2022 FIFA World Cup?", expect="The articles don't say")
    assert "Closest passages" in text and "Open article" not in text  # folded away until opened
    browser.save_screenshot(str(OUTPUT_DIR / "abstention.png"))
