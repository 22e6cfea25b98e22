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
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

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
    open_button = WebDriverWait(driver, STUCK).until(
        EC.element_to_be_clickable((By.XPATH, "//button[normalize-space(.)='Open article']"))
    )
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", open_button)
    open_button.click()
    frame = WebDriverWait(driver, STUCK).until(
        EC.visibility_of_element_located((By.CSS_SELECTOR, f"{DIALOG} iframe"))
    )
    dialog_text = driver.find_element(By.CSS_SELECTOR, DIALOG).text
    assert "JAPAN Forward" in dialog_text, f"dialog does not show the article's source: {dialog_text[:300]!r}"
    driver.switch_to.frame(frame)
    try:
        mark = WebDriverWait(driver, STUCK).until(EC.presence_of_element_located((By.CSS_SELECTOR, "mark#cited")))
        mark_text = mark.text
        # The page's own script scrolls the mark into view on load; wait for it, then check the geometry.
        in_view_js = (
            "const r = document.getElementById('cited').getBoundingClientRect();"
            "return {top: r.top, bottom: r.bottom, height: window.innerHeight,"
            " scrollTop: document.getElementById('article').scrollTop};"
        )

        def scrolled(d):
            g = d.execute_script(in_view_js)
            return g if 0 <= g["top"] < g["height"] else False

        try:
            geometry = WebDriverWait(driver, STUCK, poll_frequency=0.1).until(scrolled)
        except Exception:
            geometry = driver.execute_script(in_view_js)
            pytest.fail(f"the cited passage is not scrolled into view: {geometry}", pytrace=False)
    finally:
        driver.switch_to.default_content()
    print(f"cited passage {mark_text!r} at {geometry}")
    assert "70 minutes" in mark_text
    assert mark_text.strip() in answer_text, "the highlighted passage is not the sentence the answer quotes"
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
    assert not [e for e in browser.find_elements(By.CSS_SELECTOR, '[data-testid="stAppDeployButton"]') if e.is_displayed()]
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
