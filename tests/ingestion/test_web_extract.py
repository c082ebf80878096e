"""Pages → main content, links and translations; URLs → document ids and markets; sitemaps read safely."""

from __future__ import annotations

import gzip

import pytest

from ingestion.web_extract import boilerplate, canonical_url, decode_page, extract, market_of, page_id, render
from ingestion.web_fetch import read_sitemap
from knowledge.schema import normalize_document_id

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("url", "expected"), [
    ("https://Help.Example/th/%E0%B8%84%E0%B8%B7%E0%B8%99", "web/help.example/th/คืน"),
    ("https://help.example/", "web/help.example/index"),
    ("https://help.example/de-de/faq/", "web/help.example/de-de/faq/index"),
    ("http://127.0.0.1:8080/ja/配送", "web/127.0.0.1:8080/ja/配送"),
    ("https://help.example/.well-known/x", "web/help.example/_.well-known/x"),
])
def test_a_page_id_is_stable_and_a_valid_document_id(url: str, expected: str) -> None:
    assert page_id(url) == expected == normalize_document_id(expected)


def test_query_strings_and_long_names_still_give_valid_distinct_ids() -> None:
    first, second = page_id("https://h.example/a?id=1"), page_id("https://h.example/a?id=2")
    assert first != second and first.startswith("web/h.example/a~")
    long = page_id("https://h.example/" + "ข" * 300)
    assert normalize_document_id(long) == long and len(long.split("/")[-1].encode()) <= 255


@pytest.mark.parametrize(("url", "hreflang", "expected"), [
    ("https://h.example/de-de/versand", None, "DE"),
    ("https://h.example/pt-br/entrega", None, "BR"),
    ("https://h.example/th/ship", None, "TH"),
    ("https://h.example/vi/giao-hang", None, "VN"),
    ("https://h.example/en/shipping", None, "*"),  # English has no single home market: the source's
    ("https://h.example/help/envio", "es-MX", "MX"),
    ("https://h.example/help/envio", "es", "*"),
])
def test_the_market_comes_from_the_url_or_the_pages_own_hreflang(url: str, hreflang: str | None,
                                                                 expected: str) -> None:
    assert market_of(url, "*", hreflang=hreflang) == expected


def test_main_content_links_and_translations() -> None:
    html = """<html lang="ar"><head><title>الإرجاع | متجر</title>
      <link rel="alternate" hreflang="en" href="/en/returns"><link rel="alternate" hreflang="ar-SA" href="/ar/x">
      </head><body><header>Logo</header><nav><a href="/en/returns">EN</a><a href="mailto:a@b.c">mail</a>
      <a href="https://other.example/">out</a><a href="/ar/x#top">self</a></nav>
      <main><h1>الإرجاع</h1><p>يمكنك إرجاع المنتج خلال ٣٠ يومًا.</p><script>track()</script>
      <div>نص بدون فقرة</div></main><footer>حقوق النشر</footer></body></html>"""
    page = extract(html, "https://shop.example/ar/x")
    assert page.title == "الإرجاع" and page.language == "ar"
    assert page.links == ["https://shop.example/en/returns", "https://other.example/", "https://shop.example/ar/x"]
    assert page.alternates == {"en": "https://shop.example/en/returns", "ar-SA": "https://shop.example/ar/x"}
    texts = [markup for _, markup in page.blocks]
    assert any("خلال ٣٠ يومًا" in t for t in texts) and any("نص بدون فقرة" in t for t in texts)
    rendered = render(page, set())
    assert "track()" not in rendered and "Logo" not in rendered and "حقوق النشر" not in rendered


def test_blocks_common_to_most_pages_are_left_out() -> None:
    pages = [extract(f"<html><body><main><h1>Page {i}</h1><p>Own text {i}.</p><p>Questions? Call us.</p>"
                     "</main></body></html>", f"https://h.example/{i}") for i in range(5)]
    common = boilerplate(pages)
    assert len(common) == 1
    rendered = render(pages[0], common)
    assert "Own text 0." in rendered and "Call us" not in rendered
    assert boilerplate(pages[:2]) == set()  # too few pages to tell


def test_charset_from_header_meta_or_utf8() -> None:
    text = "Rückgabe"
    assert decode_page(text.encode("latin-1"), "text/html; charset=ISO-8859-1") == text
    assert text in decode_page(b'<meta charset="windows-1252">' + text.encode("cp1252"), "text/html")
    assert decode_page(text.encode("utf-8"), "text/html") == text


def test_canonical_urls() -> None:
    assert canonical_url("HTTP://Help.Example:80/a#b") == "http://help.example/a"
    assert canonical_url("../c?x=1", "https://h.example/a/b/") == "https://h.example/a/c?x=1"
    assert canonical_url("javascript:alert(1)") is None


def test_sitemaps_and_sitemap_indexes_are_read_without_entities() -> None:
    urlset = ('<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
              "<url><loc>https://h.example/a</loc></url><url><loc> https://h.example/ข </loc></url></urlset>")
    assert read_sitemap(urlset.encode(), max_bytes=10_000) == (["https://h.example/a", "https://h.example/ข"], [])
    index = ('<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>https://h.example/s1.xml'
             "</loc></sitemap></sitemapindex>")
    assert read_sitemap(gzip.compress(index.encode()), max_bytes=10_000) == ([], ["https://h.example/s1.xml"])
    hostile = ('<?xml version="1.0"?><!DOCTYPE u [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
               '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>&x;</loc></url></urlset>')
    urls, _ = read_sitemap(hostile.encode(), max_bytes=10_000)
    assert all("root:" not in u for u in urls)
    with pytest.raises(ValueError):
        read_sitemap(b"<html><body>not a sitemap</body></html>", max_bytes=10_000)
    with pytest.raises(ValueError):
        read_sitemap(gzip.compress(b"<urlset>" + b" " * 20_000 + b"</urlset>"), max_bytes=10_000)
