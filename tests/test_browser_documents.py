"""In a real headless Chromium: a PDF and a Word file, made here, uploaded through the chat's "Add articles" box,
indexed, and then asked about; each answer quotes and cites its file. Screenshots go to test-output/browser/."""

from __future__ import annotations

import pytest

from .browser_support import OUTPUT_DIR, ask, script_idle, wait_for_chat_input
from .conftest import STUCK
from .document_files import (
    BRIDGE_ANSWER_PAGE,
    BRIDGE_PAGES,
    BRIDGE_QUESTION,
    BRIDGE_TITLE,
    LIGHTHOUSE_PARAGRAPHS,
    LIGHTHOUSE_QUESTION,
    LIGHTHOUSE_TITLE,
    write_docx,
    write_pdf,
)  # fmt: skip

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EXPANDER = '[data-testid="stExpander"]'
# The add-articles box's text, also while it is folded (innerText leaves a closed <details> out).
_ADD_BOX_TEXT_JS = """
const box = Array.from(document.querySelectorAll('[data-testid="stExpander"]'))
  .find(e => e.querySelector('summary') && e.querySelector('summary').textContent.includes('Add articles'));
return box ? box.textContent : '';
"""


def _open_add_articles(driver):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    summary = WebDriverWait(driver, STUCK).until(
        EC.element_to_be_clickable((By.XPATH, "//summary[contains(., 'Add articles')]"))
    )
    if summary.find_element(By.XPATH, "..").get_attribute("open") is None:
        summary.click()
    file_input = f'{EXPANDER} [data-testid="stFileUploader"] input[type="file"]'
    return WebDriverWait(driver, STUCK).until(EC.presence_of_element_located((By.CSS_SELECTOR, file_input)))


def _indexing_done(driver) -> str | bool:
    """The add-articles box's outcome once the background index run is over and the page has settled."""
    from selenium.webdriver.common.by import By

    if driver.find_elements(By.CSS_SELECTOR, '[data-testid="stProgress"]') or not script_idle(driver):
        return False
    text = driver.execute_script(_ADD_BOX_TEXT_JS)
    return text if ("Added" in text or "Nothing was added" in text) else False


def test_upload_a_pdf_and_a_docx_and_ask_about_each(browser, app_server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    pdf = write_pdf(tmp_path / "bridge-report.pdf", BRIDGE_PAGES, heading=BRIDGE_TITLE, title=BRIDGE_TITLE,
                    running_header="Wellport City Council - Annual Reports", page_footer=True)  # fmt: skip
    word = write_docx(tmp_path / "lighthouse.docx", LIGHTHOUSE_PARAGRAPHS, title=LIGHTHOUSE_TITLE, author="Ruth Hale")
    wait_for_chat_input(driver, app_server)

    file_input = _open_add_articles(driver)
    file_input.send_keys(f"{pdf}\n{word}")  # both files at once (the uploader takes several)
    WebDriverWait(driver, STUCK).until(
        lambda d: all(name in d.execute_script(_ADD_BOX_TEXT_JS) for name in (pdf.name, word.name)),
        "the uploader does not list both files",
    )
    driver.save_screenshot(str(OUTPUT_DIR / "documents-upload.png"))
    WebDriverWait(driver, STUCK).until(
        EC.element_to_be_clickable((By.XPATH, "//button[normalize-space(.)='Add to index']"))
    ).click()
    outcome = WebDriverWait(driver, STUCK, poll_frequency=0.2).until(_indexing_done, "the index run did not end")
    print(f"add articles: {outcome!r}")
    # the outcome names both articles by their titles (from the PDF's and the .docx's metadata)
    assert "Added" in outcome and BRIDGE_TITLE in outcome and LIGHTHOUSE_TITLE in outcome, outcome
    assert "Skipped" not in outcome, outcome

    _, _, bridge = ask(driver, BRIDGE_QUESTION, expect="4 March 2024")
    driver.save_screenshot(str(OUTPUT_DIR / "documents-pdf-answer.png"))
    assert "4 March 2024" in bridge
    assert BRIDGE_TITLE in driver.find_element(By.TAG_NAME, "body").text, "the PDF is not cited by its title"
    assert f"Page {BRIDGE_ANSWER_PAGE}" in bridge, "the PDF quote's card does not name its page"

    _, _, lighthouse = ask(driver, LIGHTHOUSE_QUESTION, expect="Ellen Marsh")
    driver.save_screenshot(str(OUTPUT_DIR / "documents-docx-answer.png"))
    assert "Ellen Marsh" in lighthouse
    page = driver.find_element(By.TAG_NAME, "body").text
    assert LIGHTHOUSE_TITLE in page and "Ruth Hale" in page, "the Word file is not cited by its title and author"
