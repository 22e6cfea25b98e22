"""article-qa: answers from news articles, with a verbatim, checkable citation behind every claim."""

from importlib import import_module

# Public names and their modules, imported on first use so `qa index` and `qa --help` start fast.
_EXPORTS = {
    "Answer": "qa.citations",
    "Article": "qa.articles",
    "Assistant": "qa.api",
    "Citation": "qa.citations",
    "CitationNotFound": "qa.errors",
    "DiskFull": "qa.errors",
    "Filters": "qa.retrieval",
    "HybridRetriever": "qa.retrieval",
    "IndexBusy": "qa.errors",
    "IndexCorrupt": "qa.errors",
    "IndexReport": "qa.indexing",
    "IndexStatus": "qa.api",
    "IndexWriteError": "qa.errors",
    "InputError": "qa.errors",
    "LLMError": "qa.errors",
    "Passage": "qa.citations",
    "QAError": "qa.errors",
    "Settings": "qa.settings",
    "StoreUnavailable": "qa.errors",
    "UsageError": "qa.errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'qa' has no attribute {name!r}")
