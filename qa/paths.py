"""Where article-qa finds its own files and keeps the user's, in a checkout and when installed from a wheel.

A wheel carries ``ui/`` as the package ``qa.ui`` and ``seeds/`` as ``qa.demo`` (pyproject.toml's package-dir), so
in an installed copy they sit inside the ``qa`` folder; in a checkout (and an editable install of one) they stay
beside it, at the top level of the design card.

The default index folder, in order: ``QA_INDEX_DIR``; ``index/`` of the current folder when that is an article-qa
checkout (so ``make run`` and a developer's ``qa`` keep using it); else a per-user data folder
(``platformdirs.user_data_dir("article-qa")/index``, e.g. ``~/.local/share/article-qa/index`` on Linux), so an
installed ``qa`` run from any folder finds the same index and never writes into site-packages.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import platformdirs

APP_NAME = "article-qa"
PACKAGE_DIR = Path(__file__).resolve().parent
# The folder above qa/: a checkout's root, or site-packages when installed (where it holds no ui/ or seeds/).
CHECKOUT_ROOT = PACKAGE_DIR.parent


def _packaged_or_checkout(packaged: str, checkout: str) -> Path:
    inside = PACKAGE_DIR / packaged
    return inside if inside.is_dir() else CHECKOUT_ROOT / checkout


def ui_app() -> Path:
    """The Streamlit script of the chat: qa/ui/app.py when installed, ui/app.py in a checkout."""
    return _packaged_or_checkout("ui", "ui") / "app.py"


def demo_articles_dir() -> Path:
    """The two seed articles shipped as demo data: qa/demo/ when installed, seeds/ in a checkout."""
    return _packaged_or_checkout("demo", "seeds")


def is_checkout(folder: Path) -> bool:
    """Whether ``folder`` is an article-qa checkout: its pyproject.toml names the project and qa/ is beside it."""
    pyproject = folder / "pyproject.toml"
    if not (pyproject.is_file() and (folder / "qa").is_dir()):
        return False
    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):  # someone else's or a broken file: not ours
        return False
    return isinstance(project, dict) and project.get("name") == APP_NAME


def user_data_dir() -> Path:
    """The per-user data folder of article-qa (XDG_DATA_HOME is honoured on Linux)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_index_dir() -> Path:
    """QA_INDEX_DIR if set; else index/ of the current folder if it is a checkout; else the per-user index."""
    if configured := os.environ.get("QA_INDEX_DIR"):
        return Path(configured)
    cwd = Path.cwd()
    return cwd / "index" if is_checkout(cwd) else user_data_dir() / "index"
