"""The wheel works outside the checkout: built from the sources, installed into a new virtual environment, and run
from a folder that is not a checkout, `qa index --demo`, `qa ask`, the Python API and `qa ui` work, the index lands
in the per-user data folder, and building prints no setuptools warning (the slow tests). In a checkout, the
index stays index/ and the UI and demo articles are the checkout's folders (the fast tests at the end).

The new environment gets the wheel with ``--no-deps``; its dependencies come from the project's own environment
through a ``.pth`` file, because installing them anew needs the internet (this machine has none but the package
index, and CI should not depend on it) and takes minutes (torch, chromadb, onnxruntime...). A ``.pth`` line adds
that folder but does not run the ``.pth`` files inside it, so the checkout's editable install is not picked up:
`test_article_qa_comes_from_the_wheel` checks that ``qa`` is the installed copy.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from qa.paths import default_index_dir, demo_articles_dir, is_checkout, ui_app

from .browser_support import health_ok, stop
from .conftest import ROOT, SEED_IDS, STUCK, wait_until

# What a wheel is built from: the package, the UI and the demo articles it carries, and the project's metadata.
SOURCES = ("pyproject.toml", "README.md", "qa", "ui", "seeds")
SERVER_URL = re.compile(r"URL: (http://127\.0\.0\.1:\d+)")


def run(*cmd, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=STUCK, **kwargs)


def build_wheel(work: Path) -> tuple[Path, str]:
    """The wheel built from a copy of the sources (a build in the checkout would leave build/ there, whose stale
    files could slip into later wheels), and the build's output."""
    source = work / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, source / name)
    # --no-build-isolation: the build uses this environment's setuptools (torch requires >=77.0.3, as pyproject's
    # build-system does) rather than fetching one. Without PYTHONDONTWRITEBYTECODE: with it set, setuptools warns
    # that it skips byte-compiling, a warning of this environment's, not of the project's.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    built = run(sys.executable, "-m", "pip", "wheel", "--verbose", "--no-deps", "--no-index", "--no-build-isolation",
                "--wheel-dir", str(work / "dist"), str(source), env=env)  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (work / "dist").glob("article_qa-*.whl")
    return wheel, built.stdout + built.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A new venv outside the repository with the wheel installed, and the environment to run it in."""
    work = tmp_path_factory.mktemp("wheel")
    wheel, build_output = build_wheel(work)
    venv = work / "venv"
    assert run(sys.executable, "-m", "venv", "--without-pip", str(venv)).returncode == 0
    python = venv / "bin" / "python"
    # this environment's pip installs into the new one (pip --python): the new venv needs no pip of its own
    install = run(
        sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)
    )
    assert install.returncode == 0, install.stdout + install.stderr
    site = Path(run(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    ours = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (site / "project_dependencies.pth").write_text("".join(f"{path}\n" for path in ours))
    home = work / "home"  # outside the repository, and not a checkout
    home.mkdir()
    # No PYTHONPATH (it would import qa from the checkout) and no QA_ settings (the defaults are under test); the
    # per-user data folder in a temporary one. HOME stays: the embedding model's ONNX export is cached there.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("QA_")}
    env["XDG_DATA_HOME"] = str(work / "data")
    return {"venv": venv, "python": python, "qa": venv / "bin" / "qa", "cwd": home, "env": env,
            "data": work / "data", "wheel": wheel, "build_output": build_output, "install_output": install.stdout + install.stderr}  # fmt: skip


def in_venv(installed, *cmd) -> subprocess.CompletedProcess:
    return run(*map(str, cmd), cwd=installed["cwd"], env=installed["env"])


@pytest.mark.slow
def test_building_and_installing_print_no_setuptools_warning(installed):
    for output in (installed["build_output"], installed["install_output"]):
        warnings = [line for line in output.splitlines() if re.search(r"warn", line, re.IGNORECASE)]
        assert not warnings, "\n".join(warnings)


@pytest.mark.slow
def test_article_qa_comes_from_the_wheel(installed):
    done = in_venv(installed, installed["python"], "-c",
                   "import qa, qa.paths as p; print(qa.__file__); print(p.ui_app()); print(p.demo_articles_dir())")  # fmt: skip
    assert done.returncode == 0, done.stderr
    package, app, demo = map(Path, done.stdout.split())
    assert package.is_relative_to(installed["venv"])
    assert app.is_relative_to(installed["venv"]) and app.is_file()
    assert demo.is_relative_to(installed["venv"])
    assert sorted(p.stem for p in demo.glob("*.txt")) == sorted(SEED_IDS)


@pytest.fixture(scope="module")
def demo_index(installed) -> Path:
    """`qa index --demo` run from the folder outside the checkout: the index lands in the per-user data folder."""
    done = in_venv(installed, installed["qa"], "index", "--demo", "-q")
    assert done.returncode == 0, done.stderr
    folder = installed["data"] / "article-qa" / "index"
    assert "index: 2 articles" in done.stdout and f"at {folder}" in done.stdout, done.stdout
    assert (folder / "chroma.sqlite3").is_file()
    return folder


@pytest.mark.slow
def test_qa_ask_answers_from_a_demo_article(installed, demo_index):
    done = in_venv(installed, installed["qa"], "ask", "--json", "How long was the North Korean rocket in the air?")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert not answer["abstained"], answer
    assert "70 minutes" in answer["short_answer"]["text"]
    assert answer["citations"] and all(c["article_id"] in SEED_IDS for c in answer["citations"])
    assert "70 minutes" in answer["citations"][0]["quote"]


@pytest.mark.slow
def test_the_python_api_finds_the_same_index(installed, demo_index):
    script = ("from qa import Assistant\n"
              "assistant = Assistant()\n"
              "print(assistant.settings.index_dir)\n"
              "print(assistant.ask('Who did Kishida meet in Vilnius?').model_dump_json())\n")  # fmt: skip
    done = in_venv(installed, installed["python"], "-c", script)
    assert done.returncode == 0, done.stderr
    index_dir, answer = done.stdout.splitlines()[-2:]
    assert Path(index_dir) == demo_index
    assert json.loads(answer)["citations"][0]["article_id"] in SEED_IDS


def serving_url(server: subprocess.Popen, log_path: Path) -> str | None:
    """The address the server printed, once it answers its health check there."""
    assert server.poll() is None, f"qa ui exited with {server.returncode}:\n{log_path.read_text()}"
    printed = SERVER_URL.search(log_path.read_text())
    return printed.group(1) if printed and health_ok(f"{printed.group(1)}/_stcore/health") else None


@pytest.mark.slow
def test_qa_ui_serves_the_packaged_app(installed, demo_index):
    log_path = installed["cwd"] / "ui.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen([str(installed["qa"]), "ui", "--port", "0"], cwd=installed["cwd"],
                                  env={**installed["env"], "PYTHONUNBUFFERED": "1"}, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        url = wait_until(lambda: serving_url(server, log_path), "qa ui serving /_stcore/health")
    finally:
        stop(server)
    # stopping `qa ui` stopped the server: it left no streamlit behind, still serving
    wait_until(lambda: not health_ok(f"{url}/_stcore/health"), "the server gone after qa ui was stopped")


@pytest.mark.slow
def test_the_packaged_app_runs_with_its_sibling_modules(installed, demo_index):
    """The health check does not run the script: AppTest does, as streamlit runs it (its folder on sys.path, so
    `from answer_view import show_answer` finds qa/ui/answer_view.py), and asks a question."""
    script = ("from streamlit.testing.v1 import AppTest\n"
              "from qa.paths import ui_app\n"
              f"at = AppTest.from_file(str(ui_app()), default_timeout={STUCK}).run()\n"
              "assert not at.exception, at.exception\n"
              "at.chat_input[0].set_value('How long was the North Korean rocket in the air?').run()\n"
              "assert not at.exception, at.exception\n"
              "print('\\n'.join(m.value for m in at.markdown))\n")  # fmt: skip
    done = in_venv(installed, installed["python"], "-c", script)
    assert done.returncode == 0, done.stderr
    assert "70 minutes" in done.stdout


# Where the checkout's own files and the user's index are when running from the checkout (make run, the tests).


def test_in_a_checkout_the_ui_and_demo_articles_are_its_folders():
    assert ui_app() == ROOT / "ui" / "app.py" and ui_app().is_file()
    assert demo_articles_dir() == ROOT / "seeds"


def test_the_index_is_the_checkouts_index_folder_only_when_run_in_a_checkout(tmp_path, monkeypatch):
    monkeypatch.delenv("QA_INDEX_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(ROOT)
    assert default_index_dir() == ROOT / "index"  # make run
    monkeypatch.chdir(tmp_path)
    assert default_index_dir() == tmp_path / "data" / "article-qa" / "index"
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "mine"))
    assert default_index_dir() == tmp_path / "mine"


@pytest.mark.parametrize(
    "pyproject, has_qa, expected",
    [
        ('[project]\nname = "article-qa"\n', True, True),
        ('[project]\nname = "article-qa"\n', False, False),  # the project's metadata without its package
        ('[project]\nname = "someone-else"\n', True, False),
        ("[project\nname = ", True, False),  # a broken file is no checkout, not an error
        (None, True, False),
    ],
)
def test_a_checkout_is_a_pyproject_naming_article_qa_beside_a_qa_folder(tmp_path, pyproject, has_qa, expected):
    if pyproject is not None:
        (tmp_path / "pyproject.toml").write_text(pyproject)
    if has_qa:
        (tmp_path / "qa").mkdir()
    assert is_checkout(tmp_path) is expected
