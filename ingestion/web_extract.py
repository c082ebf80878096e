"""A web page → its main content, links and translations; the document id and market a URL gives.

A help-center page is mostly furniture: menus, headers, footers, cookie banners. ``extract`` keeps the page's
main content (``<main>``, ``role="main"``, a single ``<article>``, else the body without ``nav``, ``header``,
``footer``, ``aside``, forms and scripts) as blocks; ``boilerplate`` then finds the blocks that recur on most
pages of one source (a "Contact us" line, a newsletter box inside the content area) and ``render`` leaves them
out. What remains is written as a small HTML page and parsed by the same HTML path as an uploaded file
(``ingestion.parsing``).

Example:
    >>> page = extract(b"<html lang='de'><body><main><h1>Versand</h1><p>Ab 50 EUR frei.</p></main></body></html>",
    ...                "https://shop.example/de-de/versand")
    >>> page.title, page.language, page_id(page.url), market_of(page.url, "*")
    ('Versand', 'de', 'web/shop.example/de-de/versand', 'DE')
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from knowledge.schema import normalize_document_id, normalize_market, normalize_name

# Elements that are never content: dropped before anything else.
_NEVER = ("script", "style", "noscript", "template", "svg", "iframe", "form", "button", "select", "nav", "header",
          "footer", "aside", "dialog")
_BLOCKS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "dt", "dd", "blockquote", "pre", "table",
                     "figcaption", "address", "summary"})
_CONTAINERS = frozenset({"div", "section", "article", "main", "details", "ul", "ol", "dl", "span", "body"})
_SPACE = re.compile(r"\s+")
_LOCALE_SEGMENT = re.compile(r"^([a-z]{2})(?:[-_]([a-z]{2}))?$", re.IGNORECASE)
# A bare language segment (/th/) names a market only where the language has one home market.
_LANGUAGE_MARKETS = {"th": "TH", "vi": "VN", "id": "ID", "ja": "JP", "ko": "KR", "de": "DE"}
_NOINDEX = re.compile(r"\bnoindex\b", re.IGNORECASE)


@dataclass(slots=True)
class Extracted:
    """What one page holds: its main content as blocks (text key, HTML), links, translations."""

    url: str
    title: str
    language: str | None  # from <html lang>, if any; the chunks' language is still detected
    blocks: list[tuple[str, str]]
    links: list[str] = field(default_factory=list)
    alternates: dict[str, str] = field(default_factory=dict)  # hreflang → absolute URL
    noindex: bool = False


def canonical_url(url: str, base: str | None = None) -> str | None:
    """``url`` (joined to ``base``) without its fragment, host lower-cased, default port dropped; None when it is
    not http(s)."""
    try:
        joined = urljoin(base, url.strip()) if base else url.strip()
        parts = urlsplit(joined)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    netloc = parts.hostname.lower()
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        netloc += f":{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def page_id(url: str) -> str:
    """The document id of a page: ``web/<host>/<path>`` (``index`` for a folder URL, a short hash for a query),
    each segment made a valid document name, so the same URL is always the same document."""
    parts = urlsplit(url)
    host = (parts.hostname or "unknown").lower() + (f":{parts.port}" if parts.port else "")
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if not segments or parts.path.endswith("/"):
        segments.append("index")
    if parts.query:
        segments[-1] += "~" + hashlib.sha256(parts.query.encode()).hexdigest()[:10]
    return normalize_document_id("/".join(["web", _segment(host), *(_segment(s) for s in segments)]))


def _segment(text: str) -> str:
    cleaned = text.replace("\\", "_").strip()
    if cleaned.startswith("."):
        cleaned = "_" + cleaned
    try:
        name = normalize_name(cleaned)
    except ValueError:
        return "_" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    if len(name.encode()) > 200:  # room for a hash; keep whole characters
        digest = hashlib.sha256(name.encode()).hexdigest()[:12]
        name = name.encode()[:180].decode("utf-8", "ignore") + "~" + digest
    return name


def market_of(url: str, default: str, *, hreflang: str | None = None) -> str:
    """The market a page is for: a locale in its first path segment (``/de-de/`` → DE, ``/th/`` → TH), else the
    region of its own ``hreflang`` (``pt-BR`` → BR), else ``default`` (the source's market)."""
    for candidate in (_first_segment(url), hreflang or ""):
        match = _LOCALE_SEGMENT.match(candidate)
        if not match:
            continue
        language, region = match.group(1).lower(), match.group(2)
        code = region.upper() if region else _LANGUAGE_MARKETS.get(language) if candidate != hreflang else None
        if code:
            try:
                return normalize_market(code)
            except ValueError:
                continue
    return default


def _first_segment(url: str) -> str:
    return next((s for s in urlsplit(url).path.split("/") if s), "")


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def decode_page(body: bytes, content_type: str | None) -> str:
    """The page as text: the charset of its Content-Type, else of its ``<meta>``, else UTF-8 (cp1252 when the bytes
    are not UTF-8)."""
    declared = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", content_type or "", re.IGNORECASE)
    meta = _META_CHARSET.search(body[:4096])
    for charset in (declared.group(1) if declared else None, meta.group(1).decode() if meta else None, "utf-8"):
        if charset:
            try:
                return body.decode(charset)
            except (LookupError, UnicodeDecodeError):
                continue
    return body.decode("cp1252", errors="replace")


def extract(body: bytes | str, url: str) -> Extracted:
    """Parse a page: its links (menus included: they are how a crawl finds pages), its ``hreflang`` alternates,
    then its main content as blocks."""
    from lxml import html as lxml_html

    try:
        root = lxml_html.document_fromstring(decode_page(body, None) if isinstance(body, bytes) else body)
    except (ValueError, TypeError, lxml_html.etree.ParserError):
        return Extracted(url=url, title="", language=None, blocks=[])
    links: list[str] = []
    for anchor in root.iter("a"):
        href = anchor.get("href")
        if href and not (anchor.get("rel") or "").lower().count("nofollow"):
            target = canonical_url(href, url)
            if target is not None and target not in links:
                links.append(target)
    alternates: dict[str, str] = {}
    for link in root.iter("link"):
        if "alternate" in (link.get("rel") or "").lower().split() and link.get("hreflang") and link.get("href"):
            target = canonical_url(link.get("href") or "", url)
            if target is not None:
                alternates[(link.get("hreflang") or "").strip()] = target
    noindex = any(_NOINDEX.search(meta.get("content") or "") for meta in root.iter("meta")
                  if (meta.get("name") or "").lower() in ("robots", "polydesk"))
    language = (root.get("lang") or "").strip() or None
    head_title = _text(next(iter(root.iter("title")), None))
    content = _main(root)
    blocks = list(_blocks(content)) if content is not None else []
    heading = next((_text(e) for e in (content.iter("h1") if content is not None else ()) if _text(e)), "")
    return Extracted(url=url, title=heading or head_title, language=language, blocks=blocks, links=links,
                     alternates=alternates, noindex=noindex)


def _text(element: Any) -> str:
    if element is None:
        return ""
    return _SPACE.sub(" ", element.text_content()).strip()


def _main(root: Any) -> Any:
    from lxml import etree

    for element in list(root.iter(*_NEVER)):
        if element.getparent() is not None:
            element.drop_tree()
    for comment in list(root.iter(etree.Comment)):
        if comment.getparent() is not None:
            comment.getparent().remove(comment)
    for path in ("//main", "//*[@role='main']"):
        found = root.xpath(path)
        if found:
            return found[0]
    articles = root.xpath("//article")
    if len(articles) == 1:
        return articles[0]
    bodies = root.xpath("//body")
    return bodies[0] if bodies else None


def _blocks(content: Any) -> Iterable[tuple[str, str]]:
    """Block elements in document order (a block is not looked into further), with a key of their text."""
    from lxml import html as lxml_html

    stack = [content]
    while stack:
        element = stack.pop()
        tag = element.tag if isinstance(element.tag, str) else ""
        has_block_child = any(isinstance(c.tag, str) and (c.tag in _BLOCKS or c.tag in _CONTAINERS)
                              for c in element)
        if tag in _BLOCKS or (tag in _CONTAINERS and not has_block_child and element is not content):
            text = _text(element)
            if text:
                element.tail = None
                markup = lxml_html.tostring(element, encoding="unicode")
                yield _key(text), markup if tag in _BLOCKS else f"<p>{escape(text)}</p>"
            continue
        if tag in _CONTAINERS and (element.text or "").strip():
            text = _SPACE.sub(" ", element.text).strip()
            yield _key(text), f"<p>{escape(text)}</p>"
        for child in reversed(list(element)):
            if isinstance(child.tag, str):
                stack.append(child)
            if (child.tail or "").strip() and isinstance(child.tag, str):
                pass  # loose text between blocks: rare in help centers, and usually separators


def _key(text: str) -> str:
    return hashlib.sha256(text.casefold().encode()).hexdigest()[:20]


def boilerplate(pages: Sequence[Extracted], *, min_pages: int = 3, share: float = 0.6) -> set[str]:
    """Keys of blocks found on at least ``share`` of the pages (and ``min_pages``): furniture inside the content
    area, common to the source's pages. Empty when there are fewer than ``min_pages`` pages to compare."""
    if len(pages) < min_pages:
        return set()
    counts = Counter(key for page in pages for key in {k for k, _ in page.blocks})
    needed = max(min_pages, int(share * len(pages) + 0.999))
    return {key for key, count in counts.items() if count >= needed}


def render(page: Extracted, common: set[str]) -> str:
    """The page's content without ``common`` blocks, as a small HTML document (empty when nothing is left)."""
    kept = [markup for key, markup in page.blocks if key not in common]
    if not kept:
        return ""
    lang = f' lang="{escape(page.language)}"' if page.language else ""
    alternates = "".join(f'<link rel="alternate" hreflang="{escape(k)}" href="{escape(v)}">'
                         for k, v in sorted(page.alternates.items()))
    return (f'<!DOCTYPE html><html{lang}><head><meta charset="utf-8"><title>{escape(page.title)}</title>'
            f"{alternates}</head><body>{''.join(kept)}</body></html>")
