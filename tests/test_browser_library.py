"""The library page (ui/library_page.py) in a real headless Chromium: the seed articles are listed, one opens, one is
deleted after a confirmation, and the chat then answers without citing it. Screenshots go to
test-output/browser/library*.png."""

from __future__ import annotations

import pytest

from .browser_support import DIALOG, OUTPUT_DIR, ask, close_dialog, script_idle, wait_for_chat_input
from .conftest import STUCK

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROCKET = "How long was the North Korean rocket in the air?"  # only the first seed article answers it
KISHIDA = "Kishida welcomed by NATO Secretary General Stoltenberg at the Vilnius summit"
EPOCH = "Japanese Prime Minister Expected to Address East Asia Security Risks at NATO Summit"


def _row(title: str) -> str:
    """The XPath of the library row (its columns) whose checkbox is labelled ``title``."""
    return f"//div[@data-testid='stHorizontalBlock'][.//label[normalize-space(.)={title!r}]]"


def _click(driver, xpath: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    element = WebDriverWait(driver, STUCK).until(EC.element_to_be_clickable((By.XPATH, xpath)))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    element.click()


def _wait_for_text(driver, text: str, present: bool = True) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def settled(d):
        return script_idle(d) and (text in d.find_element(By.TAG_NAME, "body").text) == present

    WebDriverWait(driver, STUCK, poll_frequency=0.1).until(settled, f"{text!r} {'not ' * present}on the page")


def test_library_lists_opens_and_deletes_an_article_the_chat_then_never_cites(browser, app_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    wait_for_chat_input(driver, app_server)  # the first session builds the index from seeds/
    driver.get(app_server["url"] + "library")
    _wait_for_text(driver, KISHIDA)
    _wait_for_text(driver, EPOCH)
    page = driver.find_element(By.TAG_NAME, "body").text
    assert "2 articles" in page and "JAPAN Forward" in page and "000_f84ba1bb2755896e.txt" in page
    assert "/" + "000_f84ba1bb2755896e.txt" not in page  # the file's name, never the server's folders
    driver.save_screenshot(str(OUTPUT_DIR / "library.png"))

    _click(driver, _row(KISHIDA) + "//button[normalize-space(.)='Open']")
    dialog = WebDriverWait(driver, STUCK).until(EC.visibility_of_element_located((By.CSS_SELECTOR, DIALOG)))
    WebDriverWait(driver, STUCK).until(lambda d: "JAPAN Forward" in dialog.text, "the dialog shows no article")
    assert KISHIDA in dialog.text
    driver.save_screenshot(str(OUTPUT_DIR / "library-open.png"))
    close_dialog(driver)

    _click(driver, f"//label[normalize-space(.)={KISHIDA!r}]")
    _click(driver, "//button[normalize-space(.)='Delete selected (1)']")
    _wait_for_text(driver, "for good?")
    driver.save_screenshot(str(OUTPUT_DIR / "library-confirm.png"))
    assert KISHIDA in driver.find_element(By.TAG_NAME, "body").text  # nothing deleted before the confirmation
    _click(driver, "//button[normalize-space(.)='Delete for good']")
    _wait_for_text(driver, "Deleted “" + KISHIDA)
    labels = [e.text for e in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stCheckbox"] label')]
    assert EPOCH in labels and KISHIDA not in labels, labels
    assert "1 article" in driver.find_element(By.TAG_NAME, "body").text
    driver.save_screenshot(str(OUTPUT_DIR / "library-deleted.png"))

    wait_for_chat_input(driver, app_server)  # back to the chat
    _, _, answer = ask(driver, ROCKET)
    driver.save_screenshot(str(OUTPUT_DIR / "library-chat-after.png"))
    assert "70 minutes" not in answer and "JAPAN Forward" not in answer and KISHIDA not in answer, answer
