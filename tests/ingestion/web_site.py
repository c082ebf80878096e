"""A small multilingual help center served over real HTTP on 127.0.0.1, for website-sync tests and the bench.

``FakeSite`` serves pages from a dict (path → ``SitePage``) that a test may change between two syncs, answers
``If-None-Match`` with 304, and counts the requests per path (``site.hits["/private/staff"]``). ``help_center``
builds the standard site: English, German, Thai, Japanese, Indonesian, Vietnamese and Spanish pages with
``hreflang`` links, a sitemap index, a robots.txt that forbids ``/private/``, a page that answers 500, one that
redirects to another host, and the same header, menu, footer and "help box" on every page.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote, urlsplit


@dataclass
class SitePage:
    body: str
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    location: str | None = None
    etag: bool = True


@dataclass
class FakeSite:
    pages: dict[str, SitePage] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    not_modified: Counter[str] = field(default_factory=Counter)  # requests answered 304

    def __post_init__(self) -> None:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = unquote(urlsplit(self.path).path)
                site.hits[path] += 1
                page = site.pages.get(path)
                if page is None:
                    return self._send(404, b"not found", "text/plain")
                body = page.body.encode("utf-8")
                tag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if page.etag and page.status == 200 and self.headers.get("If-None-Match") == tag:
                    site.not_modified[path] += 1
                    return self._send(304, b"", page.content_type, etag=tag)
                self._send(page.status, body, page.content_type, location=page.location,
                           etag=tag if page.etag and page.status == 200 else None)

            def _send(self, status: int, body: bytes, content_type: str, *, location: str | None = None,
                      etag: str | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                if location:
                    self.send_header("Location", location)
                if etag:
                    self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-site", daemon=True)
        self._thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + quote(path)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


HELP_BOX = "Need more help? Chat with our team every day from 8:00 to 20:00."


def page_html(title: str, paragraphs: list[str], *, lang: str, links: list[str],
              alternates: dict[str, str] | None = None) -> str:
    """A help-center page: the same header, menu, footer and help box around its own content."""
    menu = "".join(f'<li><a href="{quote(href)}">{quote(href)}</a></li>' for href in links)
    alt = "".join(f'<link rel="alternate" hreflang="{k}" href="{quote(v)}">' for k, v in (alternates or {}).items())
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{title} | Tidewell Help'
            f"</title>{alt}</head><body><header><a href=\"/\">Tidewell</a> Sign in Cart</header>"
            f"<nav><ul>{menu}</ul></nav><main><h1>{title}</h1>{body}<div class=\"help\">{HELP_BOX}</div></main>"
            "<footer>© 2026 Tidewell GmbH · Imprint · Privacy · Terms</footer></body></html>")


CONTENT: dict[str, tuple[str, str, list[str]]] = {
    "/en/returns": ("en", "Returns", ["You can return any item within 30 days of delivery for a full refund.",
                                      "Print the prepaid label from your account and drop the parcel at any "
                                      "post office."]),
    "/de-de/rueckgabe": ("de", "Rückgabe", ["Sie können jeden Artikel innerhalb von 30 Tagen nach Lieferung "
                                            "zurückgeben und erhalten den vollen Betrag erstattet.",
                                            "Drucken Sie das Rücksendeetikett in Ihrem Konto aus."]),
    "/th/การคืนสินค้า": ("th", "การคืนสินค้า", ["คุณสามารถคืนสินค้าได้ภายใน 30 วันหลังจากได้รับสินค้าและรับเงินคืนเต็มจำนวน",
                                               "พิมพ์ฉลากส่งคืนจากบัญชีของคุณแล้วนำพัสดุไปส่งที่ไปรษณีย์"]),
    "/ja/配送": ("ja", "配送について", ["ご注文は通常2〜4営業日でお届けします。", "送料は5000円以上のご注文で無料です。"]),
    "/id/pengiriman": ("id", "Pengiriman", ["Pesanan biasanya tiba dalam tiga sampai lima hari kerja.",
                                            "Ongkos kirim gratis untuk pembelian di atas Rp500.000."]),
    "/vi/bao-hanh": ("vi", "Bảo hành", ["Tất cả sản phẩm được bảo hành hai năm kể từ ngày mua.",
                                        "Vui lòng giữ hóa đơn để được hỗ trợ bảo hành nhanh hơn."]),
    "/en/shipping": ("en", "Shipping", ["Standard shipping takes three to five business days.",
                                        "Express delivery arrives the next business day."]),
    "/en/old-offer": ("en", "Spring offer", ["Our spring offer gives ten percent off all rain jackets until May."]),
    "/es/garantia": ("es", "Garantía", ["Todos los productos tienen una garantía de dos años desde la compra.",
                                        "Guarde su recibo para recibir ayuda más rápido."]),
    "/private/staff": ("en", "Staff handbook", ["Internal discount codes for employees only."]),
}
ALTERNATES = {"/en/returns": "en", "/de-de/rueckgabe": "de-DE", "/th/การคืนสินค้า": "th-TH"}
SHIPPING_V2 = ["Standard shipping now takes two to three business days.",
               "Express delivery arrives the next business day, also on Saturdays."]


def help_center(other_host: FakeSite | None = None) -> FakeSite:
    """The standard site (see the module docstring); ``other_host`` is where ``/moved`` redirects to."""
    site = FakeSite()
    links = [*CONTENT, "/moved"]
    alternates = {lang: path for path, lang in ALTERNATES.items()}
    for path, (lang, title, paragraphs) in CONTENT.items():
        alt = alternates if path in ALTERNATES else None
        site.pages[path] = SitePage(page_html(title, paragraphs, lang=lang, links=links, alternates=alt))
    site.pages["/"] = SitePage(page_html("Help center", ["Answers about orders, shipping, returns and warranty."],
                                         lang="en", links=links))
    site.pages["/es/garantia"].status = 500
    target = (other_host.url("/elsewhere") if other_host else "http://127.0.0.2:9/elsewhere")
    site.pages["/moved"] = SitePage("", status=301, location=target, etag=False)
    site.pages["/robots.txt"] = SitePage(f"User-agent: *\nDisallow: /private/\n\nSitemap: {site.url('/sitemap.xml')}\n",
                                         content_type="text/plain")
    locs = [*CONTENT, "/moved"]
    half = len(locs) // 2
    site.pages["/sitemap.xml"] = SitePage(sitemap_index([site.url("/sitemap-1.xml"), site.url("/sitemap-2.xml")]),
                                          content_type="application/xml")
    site.pages["/sitemap-1.xml"] = SitePage(urlset([site.url(p) for p in locs[:half]]), content_type="application/xml")
    site.pages["/sitemap-2.xml"] = SitePage(urlset([site.url(p) for p in locs[half:]]), content_type="application/xml")
    return site


def urlset(urls: list[str]) -> str:
    entries = "".join(f"<url><loc>{u}</loc></url>" for u in urls)
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'


def sitemap_index(urls: list[str]) -> str:
    entries = "".join(f"<sitemap><loc>{u}</loc></sitemap>" for u in urls)
    return (f'<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{entries}</sitemapindex>")


def second_version(site: FakeSite) -> None:
    """What changes before the second sync: shipping is rewritten, the spring offer is gone, warranty is back."""
    lang, title, _ = CONTENT["/en/shipping"]
    site.pages["/en/shipping"] = SitePage(page_html(title, SHIPPING_V2, lang=lang, links=[*CONTENT, "/moved"]))
    del site.pages["/en/old-offer"]
    site.pages["/es/garantia"].status = 200
