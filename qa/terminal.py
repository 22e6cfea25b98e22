"""Answers in the terminal: printed with their citations, wrapped to its width, streamed as drafts, with
control characters removed; and line editing for ``qa chat``. The ``qa`` commands (qa.cli) print through here."""

from __future__ import annotations

import re
import shutil
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from qa.citations import Answer


# C0 and C1 control characters (but newline and tab) and bidirectional overrides: text from articles or a model
# is printed as text, never as terminal commands (titles, screen clearing, hyperlinks, clipboard, reordering).
_TERMINAL_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str) -> str:
    """``text`` without characters that a terminal would act on.

    >>> terminal_safe("Vilnius\x1b]0;pwned\x07 summit\u202e")
    'Vilnius]0;pwned summit'
    """
    return _TERMINAL_UNSAFE.sub("", text)


def wrapped(text: str, indent: str = "") -> str:
    """``text`` wrapped at word boundaries to the terminal's width (80 columns when not a terminal; ``COLUMNS``
    overrides), each paragraph on its own; a word longer than a line stays whole rather than cut."""
    width = max(shutil.get_terminal_size().columns - 1, 20)
    return "\n".join(textwrap.fill(line, width, initial_indent=indent, subsequent_indent=indent,
                                   break_long_words=False, break_on_hyphens=False) or indent.rstrip()
                      for line in text.split("\n"))  # fmt: skip


def print_answer(answer: Answer) -> None:
    from rich.console import Console
    from rich.markup import escape as rich_escape

    def escape(text: str) -> str:
        return rich_escape(terminal_safe(text))

    console = Console(highlight=False)
    if answer.standalone_question and answer.standalone_question != answer.question:
        console.print(f"[dim]searched: {escape(answer.standalone_question)}[/dim]")
    if answer.short_answer and not answer.abstained:
        console.print(
            f"[bold]{escape(answer.short_answer.text)}[/bold]  [dim](confidence {answer.confidence:.0%})[/dim]"
        )
    console.print(escape(wrapped(answer.text)), soft_wrap=True)
    dropped = [s for s in answer.sentences if not s.supported]
    if dropped and not answer.abstained and answer.mode == "generative" and answer.citations:
        console.print(f"[dim]{len(dropped)} generated sentence(s) dropped as unsupported[/dim]")
    shown = answer.citations or answer.related
    if shown:
        console.print("[dim]related, but not an answer:[/dim]" if answer.abstained else "")
    for c in shown:
        meta = ", ".join([*c.byline, *([f"page {c.page}"] if c.page else [])])  # the page: quotes from PDFs
        console.print(f"[bold][{c.marker}][/bold] {escape(c.title)}{' (' + escape(meta) + ')' if meta else ''}")
        console.print(escape(wrapped(f'"{c.quote}"', indent="    ")), soft_wrap=True)
        console.print(f"    [dim]qa cite {escape(c.id)}[/dim]")


def stream_answer(events) -> Answer:
    """Show generated text on stderr as it arrives (a draft); return the verified Answer."""
    drafted = False
    for event in events:
        if isinstance(event, str):
            if not drafted:
                typer.echo("draft: ", err=True, nl=False)
            drafted = True
            typer.echo(terminal_safe(event), err=True, nl=False)
        else:
            if drafted:
                typer.echo("\n", err=True)
            if event.notice:
                typer.echo(f"warning: {event.notice}", err=True)
            return event


CHAT_HISTORY = Path("~/.article-qa-history")  # the questions asked in `qa chat`, for the arrow keys


class _LineEditing:
    """Line editing and a question history for ``input()`` through the standard ``readline`` module, on a
    terminal only: piped questions are read as they are. The history is kept in ``CHAT_HISTORY``."""

    def __init__(self, readline=None) -> None:
        self.readline, self.path = readline, CHAT_HISTORY.expanduser()
        if readline is None:
            return
        readline.set_history_length(1000)
        try:
            readline.read_history_file(self.path)
        except (FileNotFoundError, PermissionError):
            pass
        except OSError:  # a damaged history file costs only the history
            readline.clear_history()

    def save(self) -> None:
        if self.readline is None:
            return
        try:
            self.readline.write_history_file(self.path)
        except OSError:
            pass


def line_editing() -> _LineEditing:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return _LineEditing()
    try:
        import readline  # importing it is what gives input() editing and arrow-key history
    except ImportError:  # Python built without it (Windows): plain input
        return _LineEditing()
    return _LineEditing(readline)
