"""usearch, for the dense searches (``qa.dense_rows``, ``qa.sentence_rows``), imported after onnxruntime.

Importing onnxruntime after usearch crashes the process: a segmentation fault inside the import (usearch 2.26.6,
onnxruntime 1.32.0 on Linux x86-64; the other order works). A process that opens the search index may load the
embedding model afterwards (the chat, the Python API, the benches), so every import of usearch goes through here.
"""

import onnxruntime  # noqa: F401 - first, see above
from usearch.index import Index, MetricKind, search

__all__ = ["Index", "MetricKind", "search"]
