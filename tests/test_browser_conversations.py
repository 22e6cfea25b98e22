"""Conversations that last, in a real headless Chromium: kept across a reload, "New chat", the list of earlier
conversations, rename, and delete with a confirmation (ui/conversations_panel.py).

Every wait is for a real condition, bounded by ``STUCK``; screenshots go to test-output/browser/conversations*.png.
"""

from __future__ import annotations

import contextlib
from urllib.parse import parse_qs, urlparse

import pytest

from qa.history import ConversationStore

from .browser_support import CHAT_INPUT, OUTPUT_DIR, ask, assistant_messages, script_idle, wait_for_chat_input
from .conftest import STUCK

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SIDEBAR = '[data-testid="stSidebar"]'
QUESTIONS = [
    ("How long was the North Korean rocket in the air?", "70 minutes"),
    ("Which French president opposes a NATO liaison office in Tokyo?", "Macron"),
]
TITLE = QUESTIONS[0][0]  # a conversation is named after its first question
OTHER_QUESTION = "When did Stoltenberg meet President Yoon?"
NEW_TITLE = "Rocket & <b>Macron</b>"


def wait(driver, condition, what: str):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    def settled(d):
        with contextlib.suppress(StaleElementReferenceException):  # the page was redrawn meanwhile: look again
            return condition(d)
        return False

    return WebDriverWait(driver, STUCK, poll_frequency=0.1).until(settled, f"stuck: {what}")


def sidebar_button(driver, label: str):
    """The sidebar's button showing ``label``, once the page run is over (so a click reaches this run's button)."""
    from selenium.webdriver.common.by import By

    def found(d):
        if not script_idle(d):
            return False
        buttons = [b for b in d.find_elements(By.CSS_SELECTOR, f"{SIDEBAR} button") if b.text.strip() == label]
        return buttons[0] if buttons and buttons[0].is_displayed() else False

    return wait(driver, found, f"no sidebar button {label!r}")


def click(driver, element) -> None:
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    element.click()


def screenshot(driver, name: str) -> None:
    """A screenshot with the pointer off the sidebar, so no tooltip covers the list."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    ActionChains(driver).move_to_element(driver.find_element(By.CSS_SELECTOR, CHAT_INPUT)).perform()
    wait(driver, lambda d: not [t for t in d.find_elements(By.CSS_SELECTOR, '[data-testid="stTooltipContent"]')
                                if t.is_displayed()], "the tooltip gone")  # fmt: skip
    driver.save_screenshot(str(OUTPUT_DIR / name))


def sidebar_labels(driver) -> list[str]:
    from selenium.webdriver.common.by import By

    return [b.text.strip() for b in driver.find_elements(By.CSS_SELECTOR, f"{SIDEBAR} button")]


def conversation_in_address(driver) -> str | None:
    return (parse_qs(urlparse(driver.current_url).query).get("c") or [None])[0]


def shows_answers(driver, expected: list[str]) -> bool:
    messages = assistant_messages(driver)
    return (len(messages) == len(expected) and script_idle(driver)
            and all(e in m["text"] for e, m in zip(expected, messages)))  # fmt: skip


def test_a_conversation_survives_a_reload_and_can_be_reopened_renamed_and_deleted(browser, app_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver = browser
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    wait_for_chat_input(driver, app_server)
    for question, expect in QUESTIONS:
        ask(driver, question, expect=expect)
    kept_id = wait(driver, conversation_in_address, "the conversation's id in the page's address")
    store = ConversationStore(app_server["index_dir"] / "conversations.sqlite3")
    assert store.info(kept_id).messages == 4
    expected = [expect for _, expect in QUESTIONS]

    # --- reload: both questions and answers are back, and the conversation is in the list -------------------
    driver.refresh()
    wait(driver, lambda d: shows_answers(d, expected), "the conversation shown again after a reload")
    page = driver.find_element(By.TAG_NAME, "body").text
    assert all(question in page for question, _ in QUESTIONS)
    assert sidebar_button(driver, TITLE)
    screenshot(driver, "conversations-restored.png")

    # --- New chat: empty; a second conversation; the earlier one opens again from the list ------------------
    click(driver, sidebar_button(driver, "New chat"))
    wait(driver, lambda d: shows_answers(d, []) and conversation_in_address(d) is None, "an empty new chat")
    ask(driver, OTHER_QUESTION, expect="Stoltenberg")
    assert sidebar_button(driver, OTHER_QUESTION)
    labels = sidebar_labels(driver)
    assert labels.index(OTHER_QUESTION) < labels.index(TITLE)  # newest first
    assert conversation_in_address(driver) not in (None, kept_id)
    click(driver, sidebar_button(driver, TITLE))
    wait(driver, lambda d: shows_answers(d, expected), "the earlier conversation opened from the list")
    assert conversation_in_address(driver) == kept_id
    screenshot(driver, "conversations-list.png")

    # --- rename ---------------------------------------------------------------------------------------------
    expander = wait(driver, lambda d: [s for s in d.find_elements(By.CSS_SELECTOR, f"{SIDEBAR} summary")
                                       if "Rename or delete" in s.text], "the rename-or-delete section")[0]  # fmt: skip
    click(driver, expander)
    field = wait(driver, lambda d: [f for f in d.find_elements(By.CSS_SELECTOR, f'{SIDEBAR} input[aria-label="New title"]')
                                    if f.is_displayed()], "the title field")[0]  # fmt: skip
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(NEW_TITLE, Keys.ENTER)
    wait(driver, lambda d: script_idle(d) and d.find_element(By.CSS_SELECTOR, f'{SIDEBAR} input[aria-label="New title"]')
         .get_attribute("value") == NEW_TITLE, "the new title typed")  # fmt: skip
    click(driver, sidebar_button(driver, "Rename"))
    assert sidebar_button(driver, NEW_TITLE)  # shown as typed: no HTML made of it
    assert TITLE not in sidebar_labels(driver) and store.info(kept_id).title == NEW_TITLE
    assert not driver.find_elements(By.CSS_SELECTOR, f"{SIDEBAR} button b")
    screenshot(driver, "conversations-renamed.png")

    # --- delete, after a confirmation -----------------------------------------------------------------------
    click(driver, sidebar_button(driver, "Delete conversation"))
    wait(driver, lambda d: "cannot be undone" in d.find_element(By.CSS_SELECTOR, SIDEBAR).text, "the confirmation")
    assert store.count() == 2  # not before it is confirmed
    screenshot(driver, "conversations-delete.png")
    click(driver, sidebar_button(driver, "Yes, delete"))
    wait(driver, lambda d: shows_answers(d, []) and NEW_TITLE not in sidebar_labels(d), "the conversation deleted")
    assert store.count() == 1 and conversation_in_address(driver) is None
    driver.refresh()  # and it stays deleted; the other one stays
    assert sidebar_button(driver, OTHER_QUESTION) and shows_answers(driver, [])
    assert NEW_TITLE not in sidebar_labels(driver)
    screenshot(driver, "conversations-deleted.png")
