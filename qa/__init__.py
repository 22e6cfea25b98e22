"""article-qa: answers from news articles, with a verbatim, checkable citation behind every claim."""

from qa.api import Assistant, IndexStatus
from qa.articles import Article
from qa.citations import Answer, Citation, Passage
from qa.errors import (
    CitationNotFound,
    IndexCorrupt,
    IndexMissing,
    InputError,
    LLMError,
    QAError,
    StoreUnavailable,
    UsageError,
)
from qa.indexing import IndexReport
from qa.retrieval import Filters, HybridRetriever
from qa.settings import Settings

__all__ = [
    "Answer",
    "Article",
    "Assistant",
    "Citation",
    "CitationNotFound",
    "Filters",
    "HybridRetriever",
    "IndexCorrupt",
    "IndexMissing",
    "IndexReport",
    "IndexStatus",
    "InputError",
    "LLMError",
    "Passage",
    "QAError",
    "Settings",
    "StoreUnavailable",
    "UsageError",
]
