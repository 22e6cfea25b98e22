"""Typed exceptions. The library raises these; the CLI and UI turn them into one-line messages."""


class QAError(Exception):
    """Base of every error a user can cause or fix."""


class UsageError(QAError):
    """The request itself is wrong: an empty or too long question, a bad option."""


class InputError(QAError):
    """An input file cannot be used (unreadable, binary, empty, malformed)."""


class CitationNotFound(QAError):
    """A citation or chunk id that the index does not hold."""


class IndexCorrupt(QAError):
    """The index folder exists but cannot be opened as a Chroma store."""


class IndexBusy(QAError):
    """Another process is writing to the same index folder."""


class IndexWriteError(QAError):
    """The store refused a write (disk full, read-only folder, I/O error); what was written before is kept."""


class StoreUnavailable(QAError):
    """The Chroma server cannot be reached."""


class LLMError(QAError):
    """The configured chat model failed (down, timeout, bad key, unknown model)."""


class Cancelled(QAError):
    """The user stopped an index run; what was written before is kept."""


class DiskFull(QAError):
    """The disk that holds the index has no room left; nothing indexed is lost, and the index works again once
    there is room."""


class ConversationNotFound(QAError):
    """A conversation id that the conversation store does not hold (deleted, or never made)."""


class ConversationsDamaged(QAError):
    """The conversations file cannot be read as one; it is left as it is, for the user to set aside."""
