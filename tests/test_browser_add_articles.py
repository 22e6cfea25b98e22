"""Add articles in a real headless Chromium (Debian's, through tests/browser_support.py): a binary file named .txt
is an error naming the file, with no success and no file kept; a good .txt is added and its result, naming its
title, stays on the page. Screenshots: test-output/browser/add-articles*.png.
"""

from __future__ import annotations

import pytest

from .browser_support import OUTPUT_DIR, ask, script_idle, wait_for_chat_input
from .conftest import STUCK

pytestmark = [pytest.mark.browser, pytest.mark.slow]

UPLOAD_INPUT = '[data-testid="stSidebar"] [data-testid="stFileUploaderDropzoneInput"]'
ALERTS_JS = """
return Array.from(document.querySelectorAll('[data-testid="stSidebar"] [data-testid^="stAlertContent"]'))
  .map(a => ({kind: a.getAttribute('data-testid').replace('stAlertContent', '').toLowerCase(), text: a.innerText}));
"""
FERRY = "Ferry news from the Baltic"
FERRY_TEXT = f"""---
title: {FERRY}
source: Harbour Times
published: 2031-05-02
---
The night ferry from Helsinki to Tallinn restarts on 3 May after its winter break.
"""


def sidebar_parts(driver, css: str, label: str) -> list:
    from selenium.webdriver.common.by import By

    return [e for e in driver.find_elements(By.CSS_SELECTOR, f"[data-testid=stSidebar] {css}") if label in e.text]


def alerts(driver) -> list[dict]:
    return driver.execute_script(ALERTS_JS)


def open_add_articles(driver) -> None:
    """Open the sidebar's "Add articles" expander unless it is open (its contents are on the page either way)."""
    from selenium.webdriver.support.ui import WebDriverWait

    toggle = WebDriverWait(driver, STUCK).until(lambda d: sidebar_parts(d, "summary", "Add articles"))[0]
    if not driver.execute_script("return arguments[0].closest('details').open", toggle):
        toggle.click()
    WebDriverWait(driver, STUCK).until(
        lambda d: any(e.is_displayed() for e in sidebar_parts(d, "[data-testid=stFileUploaderDropzone]", "")),
        "no upload box",
    )


def upload_and_add(driver, *paths) -> None:
    """Choose the files in the sidebar's uploader and press "Add to index"."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    open_add_articles(driver)
    box = WebDriverWait(driver, STUCK).until(lambda d: d.find_element(By.CSS_SELECTOR, UPLOAD_INPUT))
    box.send_keys("\n".join(str(p) for p in paths))

    def add_button(d):
        buttons = [b for b in d.find_elements(By.CSS_SELECTOR, '[data-testid="stSidebar"] button')
                   if b.text.strip() == "Add to index" and b.is_enabled()]  # fmt: skip
        return buttons[0] if buttons and script_idle(d) else False

    WebDriverWait(driver, STUCK).until(add_button, "no Add to index button after choosing a file").click()


def wait_for_alert(driver, kind: str, text: str) -> list[dict]:
    from selenium.webdriver.support.ui import WebDriverWait

    def shown(d):
        found = alerts(d)
        return found if any(a["kind"] == kind and text in a["text"] for a in found) and script_idle(d) else False

    return WebDriverWait(driver, STUCK, poll_frequency=0.1).until(shown, f"no {kind} saying {text!r} in the sidebar")


def test_a_binary_txt_is_an_error_and_a_good_txt_is_named_and_stays(browser, app_server, tmp_path):
    driver = browser
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    wait_for_chat_input(driver, app_server)
    uploads = app_server["index_dir"] / "uploads"

    notes, photo = tmp_path / "notes.txt", tmp_path / "photo.png"
    notes.write_bytes(bytes(range(256)) * 64)  # a program or archive, named .txt
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    upload_and_add(driver, notes, photo)
    shown = wait_for_alert(driver, "error", "Skipped notes.txt")
    driver.save_screenshot(str(OUTPUT_DIR / "add-articles-binary.png"))
    assert not [a for a in shown if a["kind"] == "success"], shown
    text = " ".join(a["text"] for a in shown)
    assert "Nothing was added." in text and "Skipped notes.txt: not readable text" in text, text
    assert "Skipped photo.png: .png files can't be added; the chat reads" in text, text
    assert str(app_server["index_dir"]) not in text and "uploads" not in text  # no server path
    assert not uploads.exists() or not list(uploads.iterdir())

    ferry = tmp_path / "ferry.txt"
    ferry.write_text(FERRY_TEXT, encoding="utf-8")
    upload_and_add(driver, ferry)
    shown = wait_for_alert(driver, "success", f"Added “{FERRY}”")
    driver.save_screenshot(str(OUTPUT_DIR / "add-articles.png"))
    assert [a["kind"] for a in shown] == ["success"], shown  # the earlier error went with the new run
    assert sorted(p.name for p in uploads.iterdir()) == ["ferry.txt"]

    # The result stays while the chat goes on: a question about the new article, then the sidebar again.
    _, _, answer = ask(driver, "When does the night ferry to Tallinn restart?", expect="3 May")
    assert "Harbour Times" in answer
    wait_for_alert(driver, "success", f"Added “{FERRY}”")
    driver.save_screenshot(str(OUTPUT_DIR / "add-articles-after-question.png"))


def test_the_sidebar_filters_show_whole_titles(browser, app_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    wait_for_chat_input(driver, app_server)
    for label in ("Filters", "Advanced"):
        WebDriverWait(driver, STUCK).until(lambda d, label=label: sidebar_parts(d, "summary", label))[0].click()
    articles = WebDriverWait(driver, STUCK).until(lambda d: sidebar_parts(d, "[data-testid=stMultiSelect]", "Articles"))
    articles[0].find_element(By.CSS_SELECTOR, "input").click()
    title = "Japanese Prime Minister Expected to Address East Asia Security Risks at NATO Summit (The Epoch Times)"
    WebDriverWait(driver, STUCK).until(lambda d: title in d.find_element(By.TAG_NAME, "body").text, "a whole title")
    driver.save_screenshot(str(OUTPUT_DIR / "add-articles-sidebar-filters.png"))
    sidebar = driver.find_element(By.CSS_SELECTOR, "[data-testid=stSidebar]").text
    assert "Passages per answer" in sidebar and "Answer mode" not in sidebar and "MiniLM" not in sidebar
