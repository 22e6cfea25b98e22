"""The extractive reader: finds the answer span in a passage, or says the passage holds none.

A span model (start and end logits over the tokens of ``[CLS] question [SEP] passage [SEP]``, "no answer"
pointing at ``[CLS]``, as in the SQuAD 2.0 BERT recipe) reads each window; the best span of a window is the
highest start + end logit with start <= end inside the passage, and "no answer" scores start[0] + end[0]
(qa/spans.py).
"""

from __future__ import annotations

import functools
import json
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qa.chunking import split_sentences
from qa.errors import QAError
from qa.settings import DEFAULT_READER_MODEL
from qa.spans import sentence_spans

if TYPE_CHECKING:
    from langchain_core.documents import Document

SHIPPED_READER = Path(__file__).resolve().parent / "models" / "reader"


@dataclass(frozen=True)
class Span:
    """A candidate answer: offsets into its article, the window's sentences that hold it, and its scores."""

    doc: Document
    start: int
    end: int
    text: str
    sentence_start: int
    sentence_end: int
    score: float
    null_score: float

    @property
    def margin(self) -> float:
        """How much better the span scores than its own window's "no answer"."""
        return self.score - self.null_score


@dataclass(frozen=True)
class Reading:
    """What the reader found in the passages: candidate spans, best first (by their margin over their own
    window's "no answer"), and how many windows it read.

    Each span is weighed against its own window's "no answer", not against the lowest one of all windows (the
    SQuAD recipe for the windows of one paragraph): retrieved passages are on the topic, and a window that is
    merely unsure of itself would otherwise lift every span. Measured in the product setting on reader-eval.json
    (top-4 retrieved passages, the first shipped model): F1 at threshold 0 40.06 against 38.43, best F1 56.94 against
    56.43; on 300 of its questions the answer's sentence is quoted for 0.81 of the answerable ones against 0.76.
    """

    spans: list[Span]
    windows: int = 0

    @property
    def margin(self) -> float:
        """The best span's margin over "no answer"; -inf when there was nothing to read."""
        return self.spans[0].margin if self.spans else -math.inf


@dataclass(frozen=True)
class _Window:
    doc: Document
    start: int  # article offsets of the window's first sentence start and last sentence end
    sentences: tuple[tuple[int, int], ...]


class Reader:
    """Reads retrieved passages in windows of whole sentences and finds the answer span in each.

    ``model`` is the shipped reader (the default), a folder with ``model.onnx`` and ``tokenizer.json``, or any
    Hugging Face extractive question-answering model by name or path (run with transformers).

    >>> reader = Reader()                                                    # doctest: +SKIP
    >>> reading = reader.read("Where was the summit held?", documents)      # doctest: +SKIP
    >>> reading.spans[0].text, reading.margin                                # doctest: +SKIP
    ('Vilnius', 7.2)
    """

    def __init__(self, model: str = DEFAULT_READER_MODEL, max_tokens: int = 256, batch_size: int = 16) -> None:
        if not model:
            raise ValueError("model must be a folder or a Hugging Face model name")
        # max_tokens is Settings.reader_max_tokens, bounded there (64..512)
        self.model_name, self.max_tokens, self.batch_size = model, max_tokens, batch_size
        self._backend: _Backend | None = None
        self._lock = threading.Lock()

    @property
    def backend(self) -> _Backend:
        with self._lock:
            if self._backend is None:
                self._backend = load_backend(self.model_name, self.max_tokens)
            return self._backend

    def read(self, question: str, docs: list[Document]) -> Reading:
        """The best span of every sentence of every window (deduplicated by article offsets), best first."""
        backend = self.backend
        windows = self._windows(backend, question, docs)
        if not windows:
            return Reading([])
        spans: dict[tuple[str, int, int], Span] = {}
        for lo in range(0, len(windows), self.batch_size):
            batch = windows[lo : lo + self.batch_size]
            texts = [_window_text(w) for w in batch]
            encodings = backend.encode(question, texts)
            starts, ends = backend.logits(encodings)
            for w, text, enc, s, e in zip(batch, texts, encodings, starts, ends):
                for found in _spans_of(w, text, enc, s, e):
                    key = (w.doc.metadata["article_id"], found.start, found.end)
                    if found.text.strip() and (key not in spans or spans[key].margin < found.margin):
                        spans[key] = found
        return Reading(sorted(spans.values(), key=lambda s: -s.margin), len(windows))

    def _windows(self, backend: _Backend, question: str, docs: list[Document]) -> list[_Window]:
        """Runs of whole sentences that fit beside the question; consecutive windows share a sentence."""
        budget = self.max_tokens - backend.overhead(question)
        windows, seen = [], set()
        for doc in docs:
            base = doc.metadata["start"]
            sentences = split_sentences(doc.page_content, offset=base)
            if not sentences:
                continue
            sizes = backend.token_counts([doc.page_content[s - base : e - base] for s, e in sentences])
            i = 0
            while i < len(sentences):
                j, used = i, 0
                while j < len(sentences) and (j == i or used + sizes[j] <= budget):
                    used += sizes[j]
                    j += 1
                run = tuple(sentences[i:j])
                key = (doc.metadata["article_id"], run[0][0], run[-1][1])
                if key not in seen:
                    seen.add(key)
                    windows.append(_Window(doc, run[0][0], run))
                i = j if j == len(sentences) or j - i == 1 else j - 1
        return windows


def _window_text(w: _Window) -> str:
    base = w.doc.metadata["start"]
    return w.doc.page_content[w.start - base : w.sentences[-1][1] - base]


def _spans_of(w: _Window, text: str, enc, start_logits: np.ndarray, end_logits: np.ndarray) -> list[Span]:
    """The best span of each of the window's sentences, kept inside it so that the sentence quoted holds the whole
    answer."""
    seq = enc.sequence_ids
    passage = [i for i, s in enumerate(seq) if s == 1]
    first, last = passage[0], passage[-1]
    offsets = enc.offsets  # a new list on every access: read it once
    ends = np.array([w.sentences[n][1] - w.start for n in range(len(w.sentences))])
    sentence_of = np.searchsorted(ends, [offsets[i][0] for i in range(first, last + 1)], side="right")
    spans = []
    for found in sentence_spans(start_logits, end_logits, first, last, sentence_of):
        a, b = offsets[found.start][0], offsets[found.end][1]
        n = min(int(sentence_of[found.start - first]), len(w.sentences) - 1)
        spans.append(Span(w.doc, w.start + a, w.start + b, text[a:b], *w.sentences[n], found.score, found.null_score))
    return spans


class _Backend:
    """A tokenizer (``tokenizers``) and a span model that turns encodings into start and end logits."""

    def __init__(self, tokenizer, max_tokens: int) -> None:
        self.tokenizer = tokenizer
        self.tokenizer.no_padding()
        # Windows are built to fit; truncating the passage only guards against a sentence longer than a window.
        self.tokenizer.enable_truncation(max_tokens, strategy="only_second")
        self._overhead = len(self.tokenizer.encode("", "").ids)

    def overhead(self, question: str) -> int:
        return self._overhead + len(self.tokenizer.encode(question, add_special_tokens=False).ids)

    def token_counts(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]

    def encode(self, question: str, texts: list[str]) -> list:
        return self.tokenizer.encode_batch([(question, t) for t in texts])

    def feed(self, encodings: list) -> dict[str, np.ndarray]:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask, types = np.zeros_like(ids), np.zeros_like(ids)
        for row, e in enumerate(encodings):
            n = len(e.ids)
            ids[row, :n], mask[row, :n], types[row, :n] = e.ids, 1, e.type_ids
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}

    def logits(self, encodings: list) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


class _OnnxBackend(_Backend):
    """The shipped reader: an ONNX export run with onnxruntime (no PyTorch at question time)."""

    def __init__(self, folder: Path, max_tokens: int) -> None:
        from tokenizers import Tokenizer

        from qa.embeddings import onnx_session

        self.session = onnx_session(folder / "model.onnx")
        self.inputs = {i.name for i in self.session.get_inputs()}
        super().__init__(Tokenizer.from_file(str(folder / "tokenizer.json")), max_tokens)

    def logits(self, encodings: list) -> tuple[np.ndarray, np.ndarray]:
        feed = {k: v for k, v in self.feed(encodings).items() if k in self.inputs}
        start, end = self.session.run(["start_logits", "end_logits"], feed)
        return start, end


class _TransformersBackend(_Backend):
    """Any Hugging Face extractive question-answering model, by name (from the hub) or local path."""

    def __init__(self, name: str, max_tokens: int) -> None:
        import torch
        from transformers import AutoModelForQuestionAnswering, AutoTokenizer

        self.torch = torch
        local = Path(name).expanduser().exists()
        tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=local)
        if not tokenizer.is_fast:
            raise ValueError("the reader needs a fast (Rust) tokenizer for character offsets")
        self.model = AutoModelForQuestionAnswering.from_pretrained(name, local_files_only=local).eval()
        self.inputs = set(tokenizer.model_input_names)
        super().__init__(tokenizer.backend_tokenizer, max_tokens)

    def logits(self, encodings: list) -> tuple[np.ndarray, np.ndarray]:
        feed = {k: self.torch.from_numpy(v) for k, v in self.feed(encodings).items() if k in self.inputs}
        with self.torch.no_grad():
            out = self.model(**feed)
        return out.start_logits.numpy(), out.end_logits.numpy()


def model_folder(name: str) -> Path | None:
    """The folder of an ONNX reader: the shipped one for the default name, else a folder holding model.onnx."""
    if name == DEFAULT_READER_MODEL:
        return SHIPPED_READER
    folder = Path(name).expanduser()
    return folder if (folder / "model.onnx").is_file() else None


def load_backend(name: str, max_tokens: int) -> _Backend:
    folder = model_folder(name)
    try:
        if folder is not None:
            return _OnnxBackend(folder, max_tokens)
        return _TransformersBackend(name, max_tokens)
    except Exception as exc:  # onnxruntime and transformers raise many types for a missing or broken model
        raise QAError(f"cannot load reader model {name!r}: {exc.__class__.__name__}: {exc}") from None


@functools.lru_cache(maxsize=8)
def calibration(name: str) -> dict:
    """The reader's calibration (no-answer threshold and confidence curve), shipped beside an ONNX reader.

    A model without one answers whenever its best span beats "no answer" (threshold 0), and its confidence
    is the logistic of the margin.
    """
    folder = model_folder(name)
    path = folder / "calibration.json" if folder else None
    if path and path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    return {"threshold": 0.0, "confidence_slope": 1.0, "confidence_intercept": 0.0}


def confidence(margin: float, calib: dict) -> float:
    """Probability that the best span is a right answer, from its margin over "no answer"."""
    z = calib["confidence_slope"] * margin + calib["confidence_intercept"]
    return float(1 / (1 + math.exp(-max(-50.0, min(50.0, z)))))
