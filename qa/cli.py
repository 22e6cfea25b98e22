"""The ``qa`` command line. Library errors become one-line messages here, with exit code 2.

qa index [PATH ...] [--demo] add or update articles (default: the demo articles, seeds/)
qa ask "QUESTION" [--json]   answer with citations
qa chat                      a conversation in the terminal (line editing and history on a terminal)
qa cite ID | --quote TEXT    open a citation, or find who says something
qa list [--search TEXT]      the indexed articles, newest first (--json: one JSON document)
qa remove ID... [--yes]      remove articles from the index for good
qa eval QUESTIONS.jsonl      measure retrieval and answers
qa ui                        the chat in the browser
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from qa.errors import Cancelled, QAError, UsageError
from qa.terminal import line_editing, print_answer, stream_answer, terminal_safe, wrapped  # noqa: F401

app = typer.Typer(
    help="Ask questions about news articles; every answer quotes its sources.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_overrides: dict = {}


@app.callback()
def _options(
    index_dir: Annotated[Path | None, typer.Option(help="Index folder (QA_INDEX_DIR).")] = None,
    chroma_url: Annotated[str | None, typer.Option(help="Chroma server URL (QA_CHROMA_URL).")] = None,
    collection: Annotated[str | None, typer.Option(help="Collection name prefix (QA_COLLECTION).")] = None,
    embedding_model: Annotated[
        str | None, typer.Option(help="Embedding model name or path (QA_EMBEDDING_MODEL).")
    ] = None,
    top_k: Annotated[int | None, typer.Option(help="Passages retrieved per question (QA_TOP_K).")] = None,
) -> None:
    _overrides.update({k: v for k, v in locals().items() if v is not None})


def _assistant(**more):
    from qa.api import Assistant
    from qa.settings import load_settings

    return Assistant(load_settings(**{**_overrides, **{k: v for k, v in more.items() if v is not None}}))


def _filters(article: list[str] | None, source: list[str] | None, since: str | None, until: str | None):
    from qa.retrieval import Filters

    try:
        since_date, until_date = (date.fromisoformat(d) if d else None for d in (since, until))
    except ValueError:
        raise UsageError("dates must be YYYY-MM-DD") from None
    try:
        return Filters(
            article_ids=article or [], sources=source or [], published_from=since_date, published_to=until_date
        )
    except ValueError:  # the only check left is Filters' own: the range is empty
        raise UsageError(f"--from {since} is after --to {until}") from None


ArticleOpt = Annotated[list[str] | None, typer.Option("--article", help="Only this article id (repeatable).")]
SourceOpt = Annotated[list[str] | None, typer.Option("--source", help="Only this publisher (repeatable).")]
SinceOpt = Annotated[str | None, typer.Option("--from", help="Published on or after YYYY-MM-DD.")]
UntilOpt = Annotated[str | None, typer.Option("--to", help="Published on or before YYYY-MM-DD.")]


@app.command()
def index(
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            help="Files or folders (.txt .md .html .jsonl), or web addresses of article pages, "
            "RSS/Atom feeds or sitemaps."
        ),
    ] = None,
    prune: Annotated[bool, typer.Option(help="Delete indexed articles that are not in PATHS.")] = False,
    rebuild: Annotated[
        bool,
        typer.Option(
            help="Build the index anew from PATHS and the old index's articles; the old folder is kept aside."
        ),
    ] = False,  # fmt: skip
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    demo: Annotated[
        bool,
        typer.Option("--demo", help="Also index the two demo articles shipped with article-qa (seeds/ of a checkout)."),
    ] = False,  # fmt: skip
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-host",
            metavar="HOST",
            help="A host name, IP address or network (10.0.0.0/8) that web addresses may reach although it is "
            "loopback or private, e.g. your own server (repeatable; adds to QA_WEB_ALLOWED_HOSTS).",
        ),
    ] = None,
) -> None:
    """Index articles incrementally: unchanged ones are not embedded again."""
    from tqdm import tqdm

    from qa.embeddings import start_worker
    from qa.loaders import count_articles
    from qa.paths import demo_articles_dir
    from qa.settings import load_settings
    from qa.web import is_url

    settings = load_settings(**_overrides)
    start_worker(settings.embedding_model, settings.model_cache_dir, settings.embedding_batch_size)
    assistant = _assistant(web_allowed_hosts=[*settings.web_allowed_hosts, *allow_host] if allow_host else None)
    if demo:  # named, so indexed again even where the library removed them (as any PATH is)
        paths = [*(paths or []), str(demo_articles_dir())]
    inputs = paths or [str(assistant.settings.seeds_dir)]  # no PATH: the seeds, less what the library removed
    # A total gives the bar its ETA; how many pages a feed lists is known only once it is fetched.
    total = None if quiet or any(map(is_url, inputs)) else count_articles(map(Path, inputs)) or None
    with StopOnSignals() as stop, tqdm(total=total, unit=" articles", disable=quiet, file=sys.stderr,
                                       dynamic_ncols=True) as bar:  # fmt: skip
        progress = lambda n, _: bar.update(n - bar.n)  # noqa: E731
        try:
            report = assistant.index(paths or None, prune=prune, rebuild=rebuild, on_progress=progress,
                                     cancel=stop.event)  # fmt: skip
        except Cancelled as exc:
            bar.close()
            typer.echo(f"stopped: {exc}", err=True)
            raise typer.Exit(128 + stop.signum) from None
    for line in report.skipped:  # they quote URLs and pages from the web: nothing in them may command the terminal
        typer.echo(terminal_safe(f"warning: {line}"), err=True)
    typer.echo(report.summary())
    typer.echo("index: {0.articles} articles, {0.chunks} chunks at {0.location}".format(assistant.status()))
    if report.skipped:
        raise typer.Exit(2)


class StopOnSignals:
    """SIGTERM (a service manager, `kill`) or SIGINT (Ctrl-C) during `qa index` stops it between articles, what
    was written kept: a process killed inside Chroma's write of its vector files can leave them torn (seen at
    85,000 chunks), a folder only `qa index --rebuild` recovers. A second signal ends the process at once."""

    def __init__(self) -> None:
        self.event, self.signum = threading.Event(), 0

    def __enter__(self) -> StopOnSignals:
        self._previous = {s: signal.signal(s, self._handle) for s in (signal.SIGTERM, signal.SIGINT)}
        return self

    def _handle(self, signum: int, frame) -> None:
        if self.event.is_set():
            self.__exit__()
            signal.raise_signal(signum)
            return
        self.signum = signum
        self.event.set()
        typer.echo("\nstopping after the articles being written (a second signal stops at once)", err=True)

    def __exit__(self, *exc) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the Answer model as JSON.")] = False,
    article: ArticleOpt = None,
    source: SourceOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
) -> None:
    """Answer one question from the articles, with cited passages."""
    assistant = _assistant()
    filters = _filters(article, source, since, until)
    if as_json:
        typer.echo(assistant.ask(question, filters=filters).model_dump_json(indent=2))
    else:
        print_answer(stream_answer(assistant.ask_stream(question, filters=filters)))


@app.command()
def chat() -> None:
    """A conversation in the terminal; follow-up questions use the earlier ones. /new starts over, Ctrl-D quits."""
    assistant = _assistant()
    assistant.ensure_index()
    history = []
    typer.echo("Ask about the articles. /new starts a new chat, Ctrl-D quits.", err=True)
    history_file = line_editing()
    while True:
        try:
            question = input("you> ")
        except (EOFError, KeyboardInterrupt):
            typer.echo("", err=True)
            return
        history_file.save()  # now, so a question survives a Ctrl-C during its answer
        if question.strip() == "/new":
            history = []
            typer.echo("(new chat)", err=True)
            continue
        try:
            answer = stream_answer(assistant.ask_stream(question, history=history))
        except UsageError as exc:
            typer.echo(f"error: {exc}", err=True)
            continue
        print_answer(answer)
        history.append(answer)


@app.command()
def cite(
    citation_id: Annotated[
        str | None, typer.Argument(help="A citation id ARTICLE:START-END@VERSION or chunk id.")
    ] = None,
    quote: Annotated[str | None, typer.Option("--quote", help="Find the passages that state this text.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    k: Annotated[int, typer.Option(min=1, max=50, help="How many passages --quote returns.")] = 5,
) -> None:
    """Show the passage behind a citation, or find which article says something."""
    if bool(citation_id) == bool(quote):
        raise UsageError("give a citation id or --quote TEXT (one of them)")
    assistant = _assistant()
    passages = [assistant.lookup(citation_id)] if citation_id else assistant.find(quote, k=k)
    changed = bool(citation_id) and passages[0].changed
    if changed:  # a saved citation of an earlier version: say so, show what is there now, exit 1
        typer.echo(f"warning: article {passages[0].article_id!r} changed since this citation; its offsets now hold:",
                   err=True)  # fmt: skip
    if as_json:
        typer.echo(passages[0].model_dump_json(indent=2) if citation_id else
                   "[" + ",\n".join(p.model_dump_json(indent=2) for p in passages) + "]")  # fmt: skip
    elif not passages:
        typer.echo("No passage says that.")
    for p in [] if as_json else passages:
        meta = ", ".join(filter(None, [*p.byline, f"page {p.page}" if p.page else "", p.url]))
        typer.echo(
            terminal_safe(
                f"{p.title}{' (' + meta + ')' if meta else ''}  [{p.id}]" + (f"  score {p.score:.2f}" if quote else "")
            )
        )
        typer.echo(terminal_safe(f"...{p.before[-160:]}>>>{p.quote}<<<{p.after[:160]}...\n"))
    if changed:
        raise typer.Exit(1)


@app.command("eval")
def evaluate_cmd(
    questions: Annotated[Path, typer.Argument(help="Questions JSONL.")],
    corpus: Annotated[Path | None, typer.Option(help="Index this corpus (JSONL) first, in its own collection.")] = None,
    k: Annotated[int, typer.Option(min=1, max=50, help="Passages per question (recall@k).")] = 4,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    show_misses: Annotated[
        bool, typer.Option("--show-misses", help="Also print each question answered wrongly.")
    ] = False,
) -> None:
    """Measure recall@k, MRR, answer accuracy, SQuAD EM/F1 of the short answer, citations, abstention, latency.
    A file of conversations (lines with "turns") is asked turn by turn, each with the earlier turns as history."""
    import re

    from qa.evaluation import (
        evaluate,
        evaluate_conversations,
        is_conversation_file,
        load_conversations,
        load_questions,
        report_json,
    )

    if is_conversation_file(questions):
        result = evaluate_conversations(_assistant(), load_conversations(questions))
        typer.echo(report_json(result) if as_json else result.table())
        if show_misses and not as_json:
            typer.echo(terminal_safe(result.misses_table()))
        return
    qs = load_questions(questions)
    if corpus:
        if not corpus.is_file():
            raise UsageError(f"no corpus file {corpus}")
        assistant = _assistant(
            collection=re.sub(r"[^A-Za-z0-9_-]", "-", f"eval-{corpus.parent.name}-{corpus.stem}")[:40]
        )
        report = assistant.index([corpus], prune=True)
        typer.echo(f"corpus: {report.summary()}", err=True)
    else:
        assistant = _assistant()
    result = evaluate(assistant, qs, k)
    typer.echo(report_json(result) if as_json else result.table())
    if show_misses and not as_json:
        typer.echo(terminal_safe(result.misses_table()))


@app.command()
def ui(
    port: Annotated[
        int | None,
        typer.Option(min=0, max=65535, help="Port on 127.0.0.1 (QA_UI_PORT); 0: a free one, which the server prints."),
    ] = None,  # fmt: skip
) -> None:
    """Open the chat in the browser (Streamlit, bound to 127.0.0.1)."""
    import math
    import os
    import subprocess

    from qa.paths import ui_app
    from qa.settings import load_settings

    settings = load_settings(**_overrides)
    port = settings.ui_port if port is None else port
    # The app's process builds its own Settings from the environment: the options given here travel with it, and
    # the index folder as resolved here, so the app uses the same one whatever folder streamlit runs it from.
    env = {
        **os.environ,
        "QA_INDEX_DIR": str(settings.index_dir),
        **{f"QA_{k.upper()}": str(v) for k, v in _overrides.items()},
    }
    # The script stays in its folder (qa/ui/ installed, ui/ in a checkout): streamlit puts that folder on
    # sys.path, which is how app.py imports its siblings by bare name.
    cmd = [sys.executable, "-m", "streamlit", "run", str(ui_app()),
           "--server.address", "127.0.0.1", "--server.port", str(port),
           "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--client.toolbarMode", "viewer",
           # the browser refuses bigger files before sending them; the chat says why (QA_MAX_UPLOAD_MB)
           "--server.maxUploadSize", str(math.ceil(settings.max_upload_mb))]  # fmt: skip
    if port:  # port 0: the port is the server's choice, in its own "URL:" line
        typer.echo(f"article-qa chat: http://127.0.0.1:{port}", err=True)
    if os.name == "posix":  # the server takes this process's place, so a signal that stops `qa ui` stops it too
        sys.stderr.flush()
        os.execve(sys.executable, cmd, env)
    raise typer.Exit(subprocess.call(cmd, env=env))


@app.command()
def status() -> None:
    """What is indexed and where, after checking the index for damage."""
    s = _assistant().status(check=True)
    typer.echo(f"{s.articles} articles, {s.chunks} chunks; model {s.embedding_model}; at {s.location}")


@app.command("list")
def list_cmd(
    search: Annotated[
        str, typer.Option(help="Only articles whose title, publisher, id, URL or file name holds this text (any case).")
    ] = "",
    source: SourceOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Articles shown.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Articles skipped first (the next page).")] = 0,
    as_json: Annotated[
        bool, typer.Option("--json", help='One JSON document: {"total": N, "items": [article, ...]}.')
    ] = False,
) -> None:
    """The indexed articles, newest published first (then by title): id, date, publisher, passages, title."""
    filters = _filters(None, source, since, until)  # the same date checks and messages as `qa ask`
    page = _assistant().list_articles(search, filters.sources, filters.published_from, filters.published_to,
                                      offset, limit)  # fmt: skip
    if as_json:
        typer.echo(page.model_dump_json(indent=2))
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("id", style="dim", overflow="fold")
    table.add_column("date", no_wrap=True)
    table.add_column("publisher", max_width=24, overflow="ellipsis", no_wrap=True)
    table.add_column("passages", justify="right", no_wrap=True)
    table.add_column("title", overflow="fold")  # last: it takes the width left
    for a in page.items:
        table.add_row(*(escape(terminal_safe(x)) for x in (a.id, a.published, a.source)), str(a.chunks),
                      escape(terminal_safe(a.title)))  # fmt: skip
    console = Console(highlight=False)
    if page.items:
        console.print(table)
    shown = f"{offset + 1}-{offset + len(page.items)}" if page.items else "none"
    console.print(f"{page.total:,} article{'s' * (page.total != 1)} match{'es' * (page.total == 1)}; shown: {shown}")


@app.command()
def remove(
    article_ids: Annotated[list[str], typer.Argument(metavar="ID...", help="Ids of the articles to remove (qa list).")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove articles from the index for good: their passages, vectors, BM25 entries and uploaded files. Their
    old citation ids then say that the article was removed, and when. An id that is not indexed is one line on
    stderr and exit code 2; the others are removed."""
    assistant = _assistant()
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("qa remove asks for confirmation on a terminal; pass --yes to remove without asking")
        known = assistant.store.records.get(ids=list(dict.fromkeys(article_ids)), include=["metadatas"])
        for article_id, meta in zip(known["ids"], known["metadatas"]):
            typer.echo(terminal_safe(f"  {article_id}  {meta.get('title', '')}"))
        if known["ids"] and not typer.confirm(f"Remove {len(known['ids'])} article(s) from the index?", default=False):
            typer.echo("Nothing removed.", err=True)
            raise typer.Exit(1)
    report = assistant.remove(article_ids)
    for a in report.removed:
        typer.echo(terminal_safe(f"removed {a.id} ({a.title or 'untitled'}; {a.chunks} passages)"))
    for name in report.files_deleted:
        typer.echo(terminal_safe(f"deleted the uploaded file {name}"))
    for missing in report.missing:
        typer.echo(terminal_safe(f"error: {missing.reason}"), err=True)
    if report.missing:
        raise typer.Exit(2)


def main() -> None:
    logging.basicConfig(format="%(message)s", level=logging.WARNING, stream=sys.stderr)
    try:
        code = app(standalone_mode=False)  # returns the exit code of typer.Exit
        sys.exit(code if isinstance(code, int) else 0)
    except QAError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except typer.Abort:
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        # Usage errors come from the click that typer vendors; they know how to show themselves.
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(2)
        raise


if __name__ == "__main__":
    main()
