"""A child process that embeds for `qa index`, so that the model never waits for Chroma.

Chroma's writes hold the GIL for a whole call (a 600-row add: most of a second on 2 cores), and the model needs
the GIL between two of its calls; in one process, an index run's writes and embedding take turns. In a child
process the model runs on while the parent reads, chunks and writes, and it starts loading while the parent is
still importing Chroma. The parent sends requests on the child's stdin, one line each: the path of a JSON file
of texts and where to save their vectors (``.npy``); the child answers on stdout, one line per model call
("progress", for the parent's cancel checks), then "done", or "error" and the message. Requests are answered in
the order sent, so the parent can send the next batch before it collects the one being embedded. The vectors are
the ones ``OnnxEncoder.encode`` gives in-process: the child runs that very code. The child removes the request
folder when its input closes, so a parent killed with SIGKILL leaves no files behind either.

    python -m qa.embedding_worker MODEL_FOLDER REQUEST_FOLDER
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from qa.errors import QAError

STOP_TIMEOUT = 10  # seconds an idle worker may take to exit once its input is closed


class EmbeddingWorker:
    """The parent's end: ``submit`` texts (returns at once), then ``result`` collects their vectors in order."""

    def __init__(self, folder: Path, batch_size: int) -> None:
        self.folder, self.batch_size = Path(folder), batch_size
        self._files = Path(tempfile.mkdtemp(prefix="qa-embed-"))
        self._sent = self._collected = 0
        # The child imports this very qa package, wherever it was found.
        path = os.pathsep.join(
            filter(None, [str(Path(__file__).resolve().parent.parent), os.environ.get("PYTHONPATH")])
        )
        self._process = subprocess.Popen(
            [sys.executable, "-m", "qa.embedding_worker", str(self.folder), str(self._files)],
            env={**os.environ, "PYTHONPATH": path}, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
        )  # fmt: skip
        atexit.register(self.close)  # the temporary files go, and the child's CPU time counts as this command's

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def submit(self, texts: list[str], batch_size: int | None = None) -> int:
        """Queue ``texts`` for embedding; returns the request's number for ``result``."""
        request = self._sent
        (self._files / f"{request}.json").write_text(json.dumps(list(texts)), encoding="utf-8")
        line = json.dumps({"texts": str(self._files / f"{request}.json"), "out": str(self._files / f"{request}.npy"),
                           "batch_size": batch_size or self.batch_size})  # fmt: skip
        try:
            self._process.stdin.write(line + "\n")
        except (BrokenPipeError, OSError):
            raise self._failed("") from None
        self._sent += 1
        return request

    def result(self, request: int, between_batches: Callable[[], None] | None = None) -> np.ndarray:
        """The vectors of a request (the oldest one not yet collected): ``between_batches`` runs after each model
        call, and what it raises stops the worker (a cancelled index run)."""
        if request != self._collected:
            raise ValueError(f"request {request} collected out of order (next: {self._collected})")
        try:
            while (line := self._process.stdout.readline()) == "progress\n":
                if between_batches is not None:
                    between_batches()
        except BaseException:
            self.close()
            raise
        if line != "done\n":
            raise self._failed(line.removeprefix("error ").strip())
        self._collected += 1
        out = self._files / f"{request}.npy"
        vectors = np.load(out)
        out.unlink()
        (self._files / f"{request}.json").unlink()
        return vectors

    def _failed(self, message: str) -> QAError:
        self.close()
        return QAError(f"the embedding model failed in its worker process: {message or 'it stopped'}")

    def close(self) -> None:
        """Stop the child and remove its files: when idle, by closing its input (it exits); else at once (a
        request it is working on is of no use any more)."""
        if self._process.poll() is None and self._sent == self._collected:
            try:
                self._process.stdin.close()
                self._process.wait(timeout=STOP_TIMEOUT)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        for pipe in (self._process.stdin, self._process.stdout):
            try:
                pipe.close()
            except OSError:  # a pipe the dead child left full
                pass
        shutil.rmtree(self._files, ignore_errors=True)


def serve(folder: Path) -> None:
    """The child's loop: answer each request line on stdin until it is closed. A model that fails to load is
    said in answer to the first request."""
    from qa.embeddings import OnnxEncoder

    encoder = OnnxEncoder(folder, spinning=False)  # the parent's writes need a core now and then
    try:
        encoder.encode(["load the model now, while the parent starts"])
        failed = ""
    except Exception as exc:  # noqa: BLE001 - any failure goes to the parent, which raises it as a QAError
        failed = f"{exc.__class__.__name__}: {exc}"

    def progress() -> None:
        print("progress", flush=True)

    for line in sys.stdin:
        request = json.loads(line)
        try:
            if failed:
                raise QAError(failed)
            texts = json.loads(Path(request["texts"]).read_text(encoding="utf-8"))
            np.save(request["out"], encoder.encode(texts, request["batch_size"], between_batches=progress))
        except Exception as exc:  # noqa: BLE001 - as above
            print("error " + (failed or f"{exc.__class__.__name__}: {exc}").replace("\n", " "), flush=True)
            return
        print("done", flush=True)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops this process
    try:
        serve(Path(sys.argv[1]))
    except BrokenPipeError:  # the parent is gone
        sys.stdout = None  # nothing left to flush at exit
    finally:  # the input is closed: the parent is done with the requests, or gone (even by SIGKILL)
        shutil.rmtree(sys.argv[2], ignore_errors=True)
