"""What the real-browser tests share: Debian's Chromium under Selenium, and the chat app on a loopback port.

Uses Debian's ``chromium`` and ``chromium-driver`` packages (``make browser``), never a test tool's own
browser download. The app is started on a loopback port that it picks itself (``--server.port 0``) and
prints. Every wait is for a real condition, bounded by ``STUCK`` so that only a stuck run fails, not a slow
or busy machine. A test module takes the fixtures by importing them (``from .browser_support import browser,
app_server``); each module then gets a server and index of its own.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .conftest import STUCK

PROJECT_ROOT = Path(__file__).resolve().parent.parent
OUTPUT_DIR = PROJECT_ROOT / "test-output" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

CHAT_INPUT = '[data-testid="stChatInput"] textarea'
# What `streamlit run` prints once it listens: the port it was given by the system (for --server.port 0).
SERVER_URL = re.compile(rb"URL: (http://127\.0\.0\.1:\d+)\n")
DIALOG = '[data-testid="stDialog"]'

# Texts of the rendered assistant messages, read in one script so a rerender cannot leave stale elements.
_ASSISTANT_MESSAGES_JS = """
return Array.from(document.querySelectorAll('[data-testid="stChatMessage"]'))
  .filter(m => m.querySelector('[data-testid="stChatMessageAvatarAssistant"]'))
  .map(m => ({
    text: (m.querySelector('[data-testid="stChatMessageContent"]') || m).innerText.trim(),
    busy: !!m.querySelector('[data-testid="stSpinner"]'),
  }));
"""
_IDLE_JS = """
const app = document.querySelector('[data-testid="stApp"]');
return !!app && app.getAttribute('data-test-script-state') === 'notRunning'
  && !document.querySelector('[data-stale="true"]');
"""


def require_browser() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not (p.is_file() and os.access(p, os.X_OK))]
    if not missing:
        return
    message = (
        f"Debian's Chromium is not installed (missing {', '.join(missing)}); "
        "run `make browser` (apt-get install chromium chromium-driver)"
    )
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def health_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status == 200 and response.read().decode().strip() == "ok"
    except (urllib.error.URLError, OSError, ValueError):
        return False


def log_tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"


@pytest.fixture(scope="module")
def browser():
    """A headless Debian Chromium driven by Debian's chromedriver, with a fresh temporary profile."""
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="article-qa-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(STUCK)
    # A command (a page load) may then take that long: the client's own limit for one is 120 s by default.
    driver.command_executor.client_config.timeout = STUCK + 60
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@contextlib.contextmanager
def streamlit_app(index_dir: Path, log_path: Path):
    """`streamlit run ui/app.py` on a loopback port, serving the index in ``index_dir``.

    The server binds port 0 and prints the port it got: a port picked here and released before the server
    binds it could be taken by another process meanwhile.
    """
    env = dict(os.environ, QA_INDEX_DIR=str(index_dir), PYTHONUNBUFFERED="1")
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "ui/app.py",
             "--server.address", "127.0.0.1", "--server.port", "0", "--logger.hideWelcomeMessage", "false",
             "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        url = None
        deadline = started + STUCK
        while not (url and health_ok(f"{url}/_stcore/health")):
            if process.poll() is not None:
                pytest.fail(f"streamlit exited with {process.returncode}:\n{log_tail(log_path)}", pytrace=False)
            if time.perf_counter() > deadline:
                pytest.fail(f"streamlit not serving ({url=}) after {STUCK} s:\n{log_tail(log_path)}", pytrace=False)
            if url is None and (printed := SERVER_URL.search(log_path.read_bytes())):
                url = printed.group(1).decode()
            time.sleep(0.2)
        server_ready = time.perf_counter() - started
        print(f"\nstreamlit server healthy after {server_ready:.2f} s ({url}, index {index_dir})")
        yield {"url": f"{url}/", "started": started, "server_ready": server_ready,
               "log": log_path, "process": process, "index_dir": index_dir}  # fmt: skip
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    """Terminate a server and wait for it; kill it when it does not stop."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    """The app on a fresh index, which its first session builds from seeds/."""
    with streamlit_app(tmp_path_factory.mktemp("index"), tmp_path_factory.mktemp("streamlit") / "streamlit.log") as app:
        yield app


def wait_for_chat_input(driver, app) -> float:
    """Seconds from starting the server until the chat input is on the page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(app["url"])
    try:
        WebDriverWait(driver, STUCK, poll_frequency=0.1).until(
            EC.visibility_of_element_located((By.CSS_SELECTOR, CHAT_INPUT))
        )
    except Exception:
        driver.save_screenshot(str(OUTPUT_DIR / "cold-start-failure.png"))
        print(log_tail(app["log"]))
        raise
    return time.perf_counter() - app["started"]


def assistant_messages(driver) -> list[dict]:
    return driver.execute_script(_ASSISTANT_MESSAGES_JS)


def script_idle(driver) -> bool:
    """The script run is over and every element on the page is from it (none left stale from the last run)."""
    return driver.execute_script(_IDLE_JS)


def ask(driver, question: str, expect: str = "") -> tuple[float, float, str]:
    """Type a question and press Enter.

    Returns the seconds until a new assistant message shows its answer (containing ``expect``), the seconds
    until the message is completely rendered (sources, buttons; the script run is over), and its text.
    """
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    before = len(assistant_messages(driver))
    box = WebDriverWait(driver, STUCK).until(EC.element_to_be_clickable((By.CSS_SELECTOR, CHAT_INPUT)))
    box.click()
    box.send_keys(question)
    WebDriverWait(driver, STUCK).until(lambda d: d.find_element(By.CSS_SELECTOR, CHAT_INPUT).get_attribute("value"))
    t0 = time.perf_counter()
    box.send_keys(Keys.ENTER)
    seen: dict[str, float] = {}

    def rendered(d):
        messages = assistant_messages(d)
        if len(messages) <= before or messages[-1]["busy"] or expect not in messages[-1]["text"]:
            return False
        seen.setdefault("visible", time.perf_counter() - t0)
        return messages[-1]["text"] if messages[-1]["text"] and script_idle(d) else False

    text = WebDriverWait(driver, STUCK, poll_frequency=0.05).until(
        rendered, f"no answer to {question!r} (containing {expect!r}) within {STUCK} s"
    )
    return seen["visible"], time.perf_counter() - t0, text


def close_dialog(driver) -> None:
    """Escape, and the dialog's Close button too if the dialog is still open a few seconds later. On a busy
    machine Escape may only be slow: the button is then gone or going, and clicking it is allowed to miss."""
    from selenium.common.exceptions import (
        ElementClickInterceptedException,
        ElementNotInteractableException,
        StaleElementReferenceException,
        TimeoutException,
    )
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    def gone(d):
        return not [e for e in d.find_elements(By.CSS_SELECTOR, DIALOG) if e.is_displayed()]

    ActionChains(driver).send_keys(Keys.ESCAPE).perform()
    try:
        WebDriverWait(driver, 5).until(gone)  # not a limit: when to try the Close button as well
        return
    except TimeoutException:
        pass
    for button in driver.find_elements(By.CSS_SELECTOR, f'{DIALOG} button[aria-label="Close"]'):
        with contextlib.suppress(StaleElementReferenceException, ElementNotInteractableException,
                                 ElementClickInterceptedException):  # fmt: skip
            button.click()
    WebDriverWait(driver, STUCK).until(gone, "the article dialog did not close")
