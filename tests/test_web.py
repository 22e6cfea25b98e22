"""Indexing web addresses: article pages, RSS/Atom feeds and sitemaps from a real HTTP server on 127.0.0.1."""

import gzip
import shutil
import threading
from collections import Counter
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from qa import Settings
from qa.articles import Article, Skipped
from qa.web import WebLoader, article_id_for_url, is_url

from .conftest import STUCK
from .test_html import BENCH
from .test_ui import ask, wait_for_index_job

PAGES = BENCH / "pages"
FEED_PAGES = ["kulu-media.com.meta-outage.html", "phys.org.tool.html", "nature.com.telescope.html"]
SITEMAP_PAGES = ["boingboing.net.millenials.html", "github.blog.spiceland.html"]


class Site:
    """A folder served over HTTP on 127.0.0.1 (port 0: the system picks a free one). It records every request
    (path and User-Agent); /stuck answers nothing until the test ends."""

    def __init__(self, root):
        self.root, self.requests, self.release = root, [], threading.Event()
        site = self

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self):
                site.requests.append((self.path, self.headers.get("User-Agent", "")))
                if self.path == "/stuck":
                    site.release.wait(STUCK)
                    return
                super().do_GET()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # shutdown() waits for the serving loop to look again: every 10 ms, not the default 0.5 s per test
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()

    def gets(self) -> Counter:
        return Counter(path for path, _ in self.requests)

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def rss(site_url: str, links: list[str]) -> str:
    items = "".join(f"<item><title>Story {n}</title><link>{link}</link></item>" for n, link in enumerate(links))
    channel = f"<channel><title>News</title><link>{site_url}/</link>{items}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'


def sitemap(tag: str, locs: list[str]) -> str:
    inner = "url" if tag == "urlset" else "sitemap"
    entries = "".join(f"<{inner}><loc>{loc}</loc></{inner}>" for loc in locs)
    namespace = "http://www.sitemaps.org/schemas/sitemap/0.9"
    return f'<?xml version="1.0" encoding="UTF-8"?><{tag} xmlns="{namespace}">{entries}</{tag}>'


@pytest.fixture(autouse=True)
def loopback_allowed(monkeypatch):
    """The test servers listen on 127.0.0.1, which web indexing refuses unless allowed: allowed here for the
    loader, the `qa` subprocesses (the `run` fixture copies this environment) and the chat (it reads it)."""
    monkeypatch.setenv("QA_WEB_ALLOWED_HOSTS", "127.0.0.1")


@pytest.fixture
def site(tmp_path):
    if not PAGES.is_dir():
        pytest.skip("../shared/bench/html is not here")
    root = tmp_path / "site"
    (root / "news").mkdir(parents=True)
    for name in FEED_PAGES + SITEMAP_PAGES:
        shutil.copy(PAGES / name, root / "news" / name)
    served = Site(root)
    u = served.url
    # relative and absolute links, one page that does not exist, and one listed twice
    feed_links = [f"news/{FEED_PAGES[0]}", f"{u}/news/{FEED_PAGES[1]}", f"{u}/news/missing.html",
                  f"{u}/news/{FEED_PAGES[2]}", f"{u}/news/{FEED_PAGES[1]}#comments"]  # fmt: skip
    (root / "feed.xml").write_text(rss(u, feed_links))
    (root / "sitemap-news.xml").write_text(sitemap("urlset", [f"{u}/news/{n}" for n in SITEMAP_PAGES]))
    (root / "sitemap.xml").write_text(sitemap("sitemapindex", [f"{u}/sitemap-news.xml"]))
    yield served
    served.close()


def load(url: str, **settings) -> list:
    settings.setdefault("web_allowed_hosts", ["127.0.0.1"])
    loader = WebLoader(Settings(web_timeout=settings.pop("web_timeout", STUCK), **settings))
    try:
        return list(loader.articles(url))
    finally:
        loader.close()


def test_a_feed_gives_each_listed_page_once_and_a_one_line_message_for_a_failing_one(site):
    items = load(f"{site.url}/feed.xml")
    articles = [i for i in items if isinstance(i, Article)]
    skipped = [str(i) for i in items if isinstance(i, Skipped)]
    assert articles[0].title.startswith("Meta Outage Hits Facebook") and len(articles) == 3
    assert skipped == [f"skipped {site.url}/news/missing.html: HTTP 404 File not found"]
    assert all(n == 1 for n in site.gets().values()) and site.gets()[f"/news/{FEED_PAGES[1]}"] == 1
    kulu = articles[0]
    assert kulu.id == article_id_for_url(f"{site.url}/news/{FEED_PAGES[0]}") and kulu.origin.startswith(site.url)
    assert kulu.author == "Kulu Media News Desk" and kulu.published == "2026-06-12" and kulu.source == "Kulu Media"
    assert all(agent.startswith("article-qa/") for _, agent in site.requests)


def test_a_sitemap_index_leads_to_the_pages_of_its_sitemaps(site):
    articles = [i for i in load(f"{site.url}/sitemap.xml") if isinstance(i, Article)]
    assert sorted(a.author for a in articles) == ["Cory Doctorow", "Jessica Rudder"]


def test_a_gzipped_sitemap_is_read(site):
    (site.root / "sitemap.xml.gz").write_bytes(gzip.compress((site.root / "sitemap-news.xml").read_bytes()))
    assert len([i for i in load(f"{site.url}/sitemap.xml.gz") if isinstance(i, Article)]) == 2


def test_the_page_limit_is_honoured_and_said(site):
    # one budget for every request: the feed and two of its pages
    items = load(f"{site.url}/feed.xml", web_max_pages=3)
    assert len([i for i in items if isinstance(i, Article)]) == 2
    assert [str(i) for i in items if isinstance(i, Skipped)] == [
        f"skipped {site.url}/feed.xml: 2 listed page(s) not fetched: at most 3 web requests a run (QA_WEB_MAX_PAGES)"
    ]
    assert f"/news/{FEED_PAGES[2]}" not in site.gets() and len(site.requests) == 3


def test_a_server_that_does_not_answer_is_given_up_after_the_timeout(site):
    [skipped] = load(f"{site.url}/stuck", web_timeout=0.5)
    assert str(skipped) == f"skipped {site.url}/stuck: no answer within 0.5 s"


def test_unreachable_and_non_article_addresses_are_one_line_messages(site, refused_port):
    (site.root / "data.bin").write_bytes(b"\x00\x01binary")
    [refused] = load(f"http://127.0.0.1:{refused_port}/story.html")
    [binary] = load(f"{site.url}/data.bin")
    assert str(refused).startswith(f"skipped http://127.0.0.1:{refused_port}/story.html: cannot connect (")
    assert str(binary) == f"skipped {site.url}/data.bin: not a web page, feed or sitemap (application/octet-stream)"
    assert "\n" not in str(refused) + str(binary)


@pytest.mark.parametrize("value, url", [("https://a.org/x", True), ("HTTP://a.org", True), ("a.org/x", False),
                                        ("/tmp/https://x", False), ("ftp://a.org/x", False)])  # fmt: skip
def test_web_addresses_are_told_from_paths(value, url):
    assert is_url(value) is url


@pytest.mark.slow
def test_qa_index_takes_a_page_a_feed_and_a_sitemap_incrementally(run, site):
    page = f"{site.url}/news/{SITEMAP_PAGES[0]}"
    first = run("index", "-q", page, f"{site.url}/feed.xml", f"{site.url}/sitemap.xml")
    assert first.returncode == 2, first.stderr  # one page failed
    assert "5 added" in first.stdout and "Traceback" not in first.stderr
    warnings = [line for line in first.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: skipped {site.url}/news/missing.html: HTTP 404 File not found"]
    again = run("index", "-q", f"{site.url}/feed.xml")
    assert "0 added, 0 updated, 3 unchanged" in again.stdout and "0 sentences embedded" in again.stdout
    kulu = article_id_for_url(f"{site.url}/news/{FEED_PAGES[0]}")
    answer = run("ask", "How many Facebook users submitted outage reports?", "--article", kulu)
    assert answer.returncode == 0, answer.stderr
    assert "(Kulu Media, Kulu Media News Desk, 2026-06-12)" in " ".join(answer.stdout.split())  # rich wraps lines


@pytest.mark.slow
def test_quotes_from_a_web_page_are_verbatim_slices_of_its_stored_text(fresh_assistant, site):
    url = f"{site.url}/news/{FEED_PAGES[0]}"
    report = fresh_assistant.index([url])
    assert report.added == 1 and not report.skipped
    answer = fresh_assistant.ask("How many Facebook users submitted outage reports?")
    assert answer.citations and answer.citations[0].article_id == article_id_for_url(url)
    for c in answer.citations:
        assert fresh_assistant.article(c.article_id).text[c.start : c.end] == c.quote
    assert (answer.citations[0].author, answer.citations[0].published) == ("Kulu Media News Desk", "2026-06-12")


@pytest.mark.slow
def test_the_chat_adds_a_web_address_and_shows_author_and_date_under_the_citation(app, site):
    app.text_area[0].set_value(f"{site.url}/news/{FEED_PAGES[0]}").run()
    next(b for b in app.button if b.label == "Add to index").click().run()
    wait_for_index_job(app)
    assert any(s.value.startswith("Added") for s in app.success), [s.value for s in app.success]
    text = ask(app, "How many Facebook users submitted outage reports?")
    assert "104,000" in text and "Kulu Media · Kulu Media News Desk · 2026\\-06\\-12" in text
    app.text_input(key="lookup").set_value("more than 104,000 Facebook users submitted outage reports").run()
    looked_up = [m.value for m in app.sidebar.markdown if "104,000" in m.value]
    assert looked_up and "Kulu Media · Kulu Media News Desk · 2026\\-06\\-12" in looked_up[0]


@pytest.mark.slow
def test_the_chat_refuses_what_is_not_a_web_address(app):
    app.text_area[0].set_value("www.example.org/story").run()
    next(b for b in app.button if b.label == "Add to index").click().run()
    [error] = [e.value.replace("\\", "") for e in app.error]  # the message is shown Markdown-escaped
    assert error == "not a web address (http:// or https://): www.example.org/story"
