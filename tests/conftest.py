"""Shared fixtures: an Assistant (real embedding model, real Chroma) over the seed articles.

A test marked ``hashed_embedder`` gets the same fixtures over an index embedded with hashed words instead
(tests/fakes.py): for tests of what is around the model, so that `pytest -m "not slow"` loads no model.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from qa import Assistant, Settings
from qa.llm import free_port

from .fakes import HASHED_WORDS_MODEL, HashedWordsEmbedder, build_hashed_index, embedder_for

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
APP = str(ROOT / "ui" / "app.py")
SEED_IDS = ("000_f84ba1bb2755896e", "001_eef8d75a3c5cf43f")
# "Who opposes the Tokyo liaison office?", then "Why?" (conversation c02 of tests/data/conversations.jsonl): the
# reasons the seed articles give, and what the follow-up searches for, its subject in the words of the sentence
# that answered first ("President Emmanuel Macron of France" in one article, "French President Emmanuel Macron" in
# the other).
MACRON_REASONS = ("beyond NATO's remit", "irritate China", "geographical overreach")
WHY_MACRON_OPPOSES = re.compile(r"Why does [^\n?]*Macron[^\n?]* oppose the Tokyo liaison office\?")

# Seconds to wait for something that must happen: reached only when it is stuck, never because the machine is
# slow or busy. Tests wait on the real condition and never assert on how fast anything is.
STUCK = 600


def wait_until(condition, what: str, timeout: float = STUCK):
    """Poll ``condition`` until it returns something true, and return that. Raises AssertionError (not
    pytest.fail, so it also works in a helper thread) when it is still false after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"stuck: {what} (still not the case after {timeout} s)")
        time.sleep(0.05)
    return result


@pytest.fixture(scope="session")
def real_seed_index(tmp_path_factory) -> Path:
    """An index of seeds/ built once per session with the real embedding model; tests copy it, never change it."""
    folder = tmp_path_factory.mktemp("seed-index")
    Assistant(Settings(index_dir=folder)).index([SEEDS])
    return folder


@pytest.fixture(scope="session")
def hashed_seed_index(tmp_path_factory) -> Path:
    """An index of seeds/ built once per session with hashed words (tests/fakes.py) in place of the model."""
    return build_hashed_index(tmp_path_factory.mktemp("hashed-seed-index"), [SEEDS])


@pytest.fixture(autouse=True)
def hashed_embedder(request):
    """A test marked ``hashed_embedder`` is about something other than the embedding model (storing, listing,
    removing, locking, reporting), so it runs without loading it: every Assistant made in the test, in this
    process, embeds with hashed words (QA_EMBEDDING_MODEL names them, and qa.api builds its Embedder through
    tests/fakes.py embedder_for), and seed_index is the seeds indexed that way. A child process would try to load
    a model of that name and fail loudly, so such tests run the qa command in this process."""
    if not request.node.get_closest_marker("hashed_embedder"):
        yield False
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QA_EMBEDDING_MODEL", HASHED_WORDS_MODEL)
        patch.setattr("qa.api.Embedder", embedder_for)
        # Should a real model be asked for that name after all (a new seam), it fails at once, not on the network.
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield True


@pytest.fixture
def seed_index(request, hashed_embedder) -> Path:
    """The seed index for this test: built with the real model, or with hashed words under ``hashed_embedder``."""
    return request.getfixturevalue("hashed_seed_index" if hashed_embedder else "real_seed_index")


@pytest.fixture(scope="session")
def real_assistant(real_seed_index) -> Assistant:
    """The real models over the real seed index, once per session (module-scoped fixtures take this one)."""
    return Assistant(Settings(index_dir=real_seed_index))


@pytest.fixture(scope="session")
def hashed_assistant(hashed_seed_index) -> Assistant:
    """Hashed words over the hashed seed index, once per session."""
    bot = Assistant(Settings(index_dir=hashed_seed_index, embedding_model=HASHED_WORDS_MODEL))
    bot._embedder = HashedWordsEmbedder()  # session-wide, so not through the per-test hashed_embedder patch
    return bot


@pytest.fixture
def assistant(request, hashed_embedder) -> Assistant:
    """A read-only Assistant over the seed index, shared by the whole session (tests must not index into it)."""
    return request.getfixturevalue("hashed_assistant" if hashed_embedder else "real_assistant")


@pytest.fixture
def fresh_assistant(tmp_path, seed_index) -> Assistant:
    """An Assistant over a private copy of the seed index, free to change."""
    shutil.copytree(seed_index, tmp_path / "index")
    return Assistant(Settings(index_dir=tmp_path / "index"))


@pytest.fixture
def refused_port():
    """A loopback port that refuses connections for the whole test: bound but not listening, so no other
    process can start listening there meanwhile (a port that is merely free now may be taken a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


CHROMA = Path(sys.executable).parent / "chroma"


class ChromaServer:
    """`chroma run --path PATH --host 127.0.0.1 --port PORT` as a child process that can be stopped and restarted.

    `chroma run --port 0` does not say which port it got, so the first start picks a free port, and tries another
    one if that was taken before chroma could bind it; a restart keeps the port (clients keep the URL).
    """

    def __init__(self, path: Path, log: Path) -> None:
        self.path, self.log = path, log
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.proc is None, "already running"
        keep_port = self.port is not None
        deadline = time.monotonic() + STUCK
        while True:
            self.port = self.port if keep_port else free_port()
            logged = self.log.stat().st_size if self.log.exists() else 0
            command = [str(CHROMA), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)]
            with self.log.open("ab") as out:
                self.proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
            while self.proc.poll() is None:
                try:
                    with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=10) as resp:
                        if resp.status == 200:
                            return
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    log = self.log.read_text(errors="replace")[-2000:]
                    pytest.fail(f"no Chroma heartbeat within {STUCK} s:\n{log}")
                time.sleep(0.2)
            self.proc = None
            said = self.log.read_bytes()[logged:].decode(errors="replace")
            # Someone else took the port: a first start tries a new one, a restart the same one again.
            if "is not available" not in said or time.monotonic() > deadline:
                pytest.fail(f"chroma run exited early:\n{said[-2000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=STUCK)  # a clean shutdown, however busy the machine: its data is read back
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def chroma_server(tmp_path):
    if not CHROMA.exists():
        pytest.skip(f"no chroma CLI at {CHROMA}")
    server = ChromaServer(tmp_path / "chroma-data", tmp_path / "chroma.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def run(tmp_path, seed_index):
    shutil.copytree(seed_index, tmp_path / "index")
    base_env = {**os.environ, "QA_INDEX_DIR": str(tmp_path / "index")}

    def _run(*args, input=None, env: dict[str, str] | None = None):
        return subprocess.run([sys.executable, "-m", "qa.cli", *args], capture_output=True, text=True,
                              env={**base_env, **(env or {})}, cwd=tmp_path, input=input, timeout=STUCK)  # fmt: skip

    return _run


@pytest.fixture
def run_in_process(tmp_path, seed_index, monkeypatch, capsys):
    """What ``run`` does, in this process: the qa command's own main() with these arguments over a copy of the seed
    index, giving back its exit code, stdout and stderr as ``run`` does. For the command's edge (usage errors, exit
    codes, one-line messages) in a test marked ``hashed_embedder``, where a child process could not load the model
    (and would take seconds to start)."""
    from qa import cli

    shutil.copytree(seed_index, tmp_path / "index")
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.chdir(tmp_path)

    def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        with monkeypatch.context() as call:
            call.setattr(sys, "argv", ["qa", *args])
            call.setattr(cli, "_overrides", {})  # the global options of an earlier call
            for name, value in (env or {}).items():
                call.setenv(name, value)
            capsys.readouterr()
            try:
                cli.main()
                code = 0
            except SystemExit as exit:
                code = exit.code if isinstance(exit.code, int) else int(exit.code is not None)
            out, err = capsys.readouterr()
        return subprocess.CompletedProcess(["qa", *args], code, out, err)

    return _run


@pytest.fixture(
    params=[
        pytest.param("in this process", marks=pytest.mark.hashed_embedder),
        pytest.param("as a process", marks=pytest.mark.slow),
    ]
)
def qa_command(request):
    """The qa command for tests of its edge (usage errors, exit codes, one-line messages), both ways: its main() in
    this process over hashed words (the fast tier), and a real process with the models (slow)."""
    return request.getfixturevalue("run_in_process" if request.param == "in this process" else "run")


@pytest.fixture
def app(tmp_path, seed_index, monkeypatch):
    """The chat page (streamlit.testing's AppTest: the real app, models and index) over a copy of the seed index
    (hashed words in place of the embedding model under ``hashed_embedder``)."""
    from streamlit.testing.v1 import AppTest

    shutil.copytree(seed_index, tmp_path / "index")
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "index"))
    at = AppTest.from_file(APP, default_timeout=STUCK)  # a script run fails only when it is stuck
    at.run()
    assert not at.exception
    return at


MODEL_LOADS: list[str] = []  # the model folders this run opened onnxruntime sessions on


def pytest_configure(config):
    """Record every model load (``qa.embeddings.onnx_session``, the embedder's and the reader's), for the fast
    tier's summary: onnxruntime itself is imported by the search modules (``qa.usearch_first``), so its import
    says nothing."""
    import qa.embeddings

    opened = qa.embeddings.onnx_session

    def recorded(path, *args, **kwargs):
        MODEL_LOADS.append(Path(path).parent.name)
        return opened(path, *args, **kwargs)

    qa.embeddings.onnx_session = recorded


def pytest_terminal_summary(terminalreporter, config):
    """The fast tier loads no model: say so when a run of it did (a new test wants slow or hashed_embedder)."""
    if config.option.markexpr.replace(" ", "") != "notslow":
        return
    loaded = [name for name in ("sentence_transformers", "torch") if name in sys.modules]
    loaded += [f"the model in {name}" for name in dict.fromkeys(MODEL_LOADS)]
    if loaded:
        terminalreporter.write_line(f"the fast tier loaded {', '.join(loaded)}: mark what loads a model slow, "
                                    "or hashed_embedder where the model is not under test", yellow=True)  # fmt: skip


# The real-browser fixtures (Debian's Chromium, the app on a loopback port), module-scoped: each browser test
# module gets a server and index of its own. Imported last: browser_support reads STUCK from this module.
from .browser_support import app_server, browser  # noqa: E402, F401
