from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.articles import Article, Skipped, article_from_text, caption_spans, clean_text, is_boilerplate
from qa.errors import InputError
from qa.loaders import count_articles, load_articles

from .conftest import SEEDS

BOILERPLATE = [
    "Advertisement",
    "Read More",
    "Related articles",
    "You may also be interested in",
    "Never Miss A Story",
    "Get our Weekly recap with the latest news, articles and resources.",
    "Cookie policy",
    "We use our own and third party cookies to allow us to understand how the site is used.",
    "You must be logged in to post a comment Login",
    "Sign up for our newsletter",
    "Share this article",
    "12 Comments",
]


@pytest.mark.parametrize("line", BOILERPLATE)
def test_boilerplate_lines_are_recognised(line):
    assert is_boilerplate(line)


@pytest.mark.parametrize(
    "line",
    [
        'Japan is not a member of NATO but Mr Kishida was invited to the meeting in Vilnius as an "observer."',
        "Last year, the ministry devoted 10 pages of its annual defense report (pdf) to Taiwan.",
        "China and North Korea React",
        "Reuters reports that the Chinese mission to the European Union rebutted the claims.",
    ],
)
def test_article_lines_are_kept(line):
    assert not is_boilerplate(line)


CAPTIONS = [
    "Prime Minister Fumio Kishida responds to reporters in Vilnius, July 12. (Provided by the press office.)",
    "Jens Stoltenberg (L) shakes hands with Fumio Kishida in Tokyo on Jan. 31, 2023. (Takashi Aoyama/AFP via Getty Images)",
]


@pytest.mark.parametrize("line", CAPTIONS)
def test_photo_captions_are_kept_and_marked(line):
    article = article_from_text(f"A body sentence.\n{line}\nAnother body sentence.", article_id="x")
    assert not is_boilerplate(line)
    assert [article.text[s:e] for s, e in caption_spans(article.text)] == [line]


def test_the_tokyo_meeting_date_stays_in_the_seed_article():
    epoch = [a for a in load_articles([SEEDS]) if isinstance(a, Article)][1]
    captions = [epoch.text[s:e] for s, e in caption_spans(epoch.text)]
    assert any("Tokyo on Jan. 31, 2023" in c for c in captions)


def test_cleaning_keeps_every_kept_line_verbatim():
    raw = "First line, kept.\nAdvertisement\n\n\nSecond   line ,  odd spacing kept.\nCookie policy\nLast."
    cleaned = clean_text(raw)
    assert cleaned == "First line, kept.\n\nSecond   line ,  odd spacing kept.\nLast."
    for line in cleaned.split("\n"):
        assert line in raw


def test_seed_articles_have_front_matter_and_clean_bodies():
    articles = [a for a in load_articles([SEEDS]) if isinstance(a, Article)]
    assert [a.source for a in articles] == ["JAPAN Forward", "The Epoch Times"]
    assert articles[0].author == "Duncan Bartlett" and articles[0].published == "2023-07-12"
    assert articles[1].title.startswith("Japanese Prime Minister Expected")
    for a in articles:
        assert "Advertisement" not in a.text and "Cookie" not in a.text and "logged in" not in a.text
        assert caption_spans(a.text), "photo captions are kept (and marked)"
    assert "Jens Stoltenberg" in articles[0].text


def test_front_matter_is_optional_and_title_is_guessed():
    article = article_from_text("A Headline Without A Period\n\nBody sentence one. Body two.", article_id="x")
    assert article.title == "A Headline Without A Period" and article.source == ""


def test_jsonl_reports_malformed_lines_by_number_and_keeps_the_rest(tmp_path):
    corpus = tmp_path / "news.jsonl"
    corpus.write_text(
        '{"doc_id": "a1", "title": "One", "text": "The first story is here.", "source": "Wire", "published": "2023-10-04T23:32:53+00:00"}\n'
        "{not json\n"
        '{"doc_id": "a3", "title": "No text"}\n'
        '{"doc_id": "a4", "title": "Four", "text": "The fourth story is here."}\n',
        encoding="utf-8",
    )
    items = list(load_articles([corpus]))
    articles = [i for i in items if isinstance(i, Article)]
    skipped = [str(i) for i in items if isinstance(i, Skipped)]
    assert [a.id for a in articles] == ["a1", "a4"]
    assert articles[0].published == "2023-10-04" and articles[0].source == "Wire"
    assert any(f"{corpus}:2" in s and "malformed JSON" in s for s in skipped)
    assert any(f"{corpus}:3" in s and "text" in s for s in skipped)


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("empty.txt", b"", "empty"),
        ("blank.md", b"   \n\n", "empty"),
        ("binary.txt", b"\x00\x01\x02PNG", "binary"),
        ("no-nul.html", bytes(range(1, 256)) * 40, "binary"),
        ("no-nul.md", b"\x89PNG\r\n\x1a\n" + bytes(range(1, 256)) * 40, "binary"),
        ("latin1.txt", "caf\xe9 au lait".encode("latin-1"), "not UTF-8"),
        ("only-ads.txt", b"Advertisement\nCookie policy\n", "no article text"),
        ("data.pdf", b"%PDF-1.4", "damaged"),
        ("sheet.xlsx", b"PK\x03\x04", "unsupported"),
    ],
)
def test_unusable_files_are_skipped_with_a_reason(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    [item] = list(load_articles([path]))
    assert isinstance(item, Skipped) and reason in item.reason and str(path) in str(item)


def test_missing_path_is_skipped():
    [item] = list(load_articles([Path("/no/such/file.txt")]))
    assert isinstance(item, Skipped) and "no such file" in item.reason


def test_bad_front_matter_is_an_input_error():
    with pytest.raises(InputError):
        article_from_text("---\ntitle: [unclosed\n---\nBody.", article_id="x")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(BOILERPLATE + ["Real sentence one.", "", "  indented text  ", "Advertisement x"])
        | st.text(st.characters(exclude_categories=("Cs",)), max_size=80),
        max_size=30,
    )
)
def test_cleaning_only_drops_whole_lines(lines):
    """Any text: every cleaned line is an input line (the ends of the whole text may lose outer whitespace)."""
    raw = "\n".join(lines)
    cleaned = clean_text(raw)
    if not cleaned:
        return
    source = raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for line in cleaned.split("\n"):
        assert line in source or any(line == s.strip() or s.startswith(line) or s.endswith(line) for s in source)
    assert not any(is_boilerplate(line) for line in cleaned.split("\n"))


def test_links_out_of_the_folder_and_special_files_are_skipped_with_a_reason(tmp_path):
    import os

    folder = tmp_path / "news"
    (folder / "sub").mkdir(parents=True)
    (folder / "real.txt").write_text("The bridge opened on Monday.\n", encoding="utf-8")
    (folder / "inside-link.txt").symlink_to(folder / "real.txt")
    secret = tmp_path / "secret.txt"
    secret.write_text("The password is swordfish.\n", encoding="utf-8")
    (folder / "shadow.txt").symlink_to(secret)
    (folder / "zero.txt").symlink_to("/dev/zero")
    (folder / "linked-folder").symlink_to(tmp_path)
    os.mkfifo(folder / "sub" / "pipe.jsonl")
    os.mkfifo(folder / "sub" / "pipe.txt")
    items = list(load_articles([folder]))
    articles = [i for i in items if isinstance(i, Article)]
    skipped = {Path(i.where).name: i.reason for i in items if isinstance(i, Skipped)}
    assert sorted(a.id for a in articles) == ["inside-link", "real"]
    assert "outside" in skipped["shadow.txt"] and "outside" in skipped["zero.txt"]
    assert "not a regular file" in skipped["pipe.jsonl"] and "not a regular file" in skipped["pipe.txt"]
    assert skipped["linked-folder"] == "a link to a folder; not followed"
    assert not any("swordfish" in a.text for a in articles)
    assert (
        count_articles([folder]) == 3
    )  # real, inside-link and pipe.txt count one each unread; pipe.jsonl is not opened


def test_yaml_aliases_are_refused_and_long_fields_are_cut(caplog):
    bomb = "---\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\ntitle: [*b, *b, *b]\n---\nBody text.\n"
    with pytest.raises(InputError, match="aliases"):
        article_from_text(bomb, article_id="bomb")
    article = article_from_text(
        f"---\ntitle: {'T' * 5000}\nsource: {'S' * 20}\n---\nBody text here.\n", article_id="long"
    )
    assert article.title == "T" * 1000 and article.source == "S" * 20
    assert "its title is 5,000 characters long; kept the first 1,000" in caplog.text
