"""Fetching a website politely and safely: robots.txt, a rate per host, conditional requests, redirects checked.

Every request goes through ``polydesk.safehttp`` (http(s) only, no private or loopback address unless the operator
allows them, a size cap and a deadline per page). Redirects are not followed blindly: ``safehttp`` hands each one
back, and a redirect to a host the source does not allow (or to a path robots.txt forbids) is reported as a skipped
page without a request to its target. ``robots.txt`` is read once per host and sync (RFC 9309: a 4xx means no
rules, a 5xx or an unreachable file means "fetch nothing"); its ``Crawl-delay`` slows the host's rate further.

Example:
    >>> with SiteFetcher(settings, hosts={"help.example"}) as fetcher:                 # doctest: +SKIP
    ...     page = fetcher.page("https://help.example/returns", etag='"v1"', last_modified=None)
    ...     page.outcome                                                              # "ok", "not_modified", ...
"""

from __future__ import annotations

import gzip
import io
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from ingestion.web_extract import canonical_url
from polydesk.errors import OutboundError, OutboundTimeoutError, PolydeskError, ResponseTooLargeError, UnsafeUrlError
from polydesk.safehttp import OutboundPolicy, fetch, open_client
from polydesk.settings import Settings

Outcome = Literal["ok", "not_modified", "gone", "failed", "skipped"]
_REDIRECTS = {301, 302, 303, 307, 308}
_MAX_HOPS = 5
_MAX_CRAWL_DELAY_S = 30.0
_HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass(slots=True)
class Fetch:
    """What became of one request: ``ok`` (body), ``not_modified`` (304), ``gone`` (404/410), ``failed`` (5xx,
    429, timeout, unreachable: kept and retried next sync) or ``skipped`` (``code`` says why: never indexed)."""

    url: str
    outcome: Outcome
    status: int | None = None
    body: bytes = b""
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    code: str | None = None
    reason: str | None = None


def host_of(url: str) -> str:
    """``host`` or ``host:port`` of a URL (as ``canonical_url`` writes it)."""
    return urlsplit(url).netloc.lower()


class SiteFetcher:
    """One sync's fetcher: a guarded HTTP client, robots.txt per host, and the pause between requests to a host."""

    def __init__(self, settings: Settings, *, hosts: Iterable[str]) -> None:
        self.settings = settings
        self.hosts = {h.lower() for h in hosts}
        self.policy = OutboundPolicy.from_settings(settings, allow_http=True, timeout_s=settings.web_timeout_s,
                                                   max_bytes=int(settings.web_max_page_mb * 1024 * 1024))
        self.agent = settings.web_user_agent
        self._client = open_client(self.policy)
        self._robots: dict[str, RobotFileParser | None] = {}  # None: robots.txt unreachable, nothing allowed
        self._next_at: dict[str, float] = {}  # host → when its next request may start (time.monotonic)
        self._delay: dict[str, float] = {}  # host → its robots.txt Crawl-delay
        self._lock = threading.Lock()
        self.requests = 0

    def __enter__(self) -> SiteFetcher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    # -- rules -------------------------------------------------------------------------------------------------

    def on_site(self, url: str) -> bool:
        return host_of(url) in self.hosts

    def allowed(self, url: str) -> bool:
        """robots.txt lets this user agent fetch ``url`` (fetching robots.txt on first use of a host)."""
        rules = self._rules(url)
        return rules is not None and rules.can_fetch(self.agent, url)

    def sitemaps(self, url: str) -> list[str]:
        """The ``Sitemap:`` lines of the robots.txt of ``url``'s host."""
        rules = self._rules(url)
        found = (rules.site_maps() if rules is not None else None) or []
        return [u for u in (canonical_url(s) for s in found) if u is not None]

    def _rules(self, url: str) -> RobotFileParser | None:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc.lower()}"
        if origin not in self._robots:
            rules: RobotFileParser | None = RobotFileParser()
            answer = self._get(origin + "/robots.txt", headers={})
            for _ in range(_MAX_HOPS):  # RFC 9309: follow at least five redirects (here: on the site only)
                target = canonical_url(answer.reason or "", answer.url) if answer.status in _REDIRECTS else None
                if target is None or not self.on_site(target):
                    break
                answer = self._get(target, headers={})
            if answer.outcome == "ok" and answer.status is not None and answer.status < 300:
                assert rules is not None
                rules.parse(answer.body.decode("utf-8", errors="replace").splitlines())
            elif answer.status is not None and 400 <= answer.status < 500 and answer.status != 429:
                assert rules is not None
                rules.parse([])  # no robots.txt: everything is allowed
            else:
                rules = None
            self._robots[origin] = rules
            delay = rules.crawl_delay(self.agent) if rules is not None else None
            if delay:
                self._delay[host_of(origin)] = min(float(delay), _MAX_CRAWL_DELAY_S)
        return self._robots[origin]

    # -- requests ----------------------------------------------------------------------------------------------

    def page(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
             html_only: bool = True) -> Fetch:
        """GET ``url`` (conditional when ``etag`` or ``last_modified`` is known), following redirects on the site
        and within robots.txt only. ``url`` itself must be on the site and allowed (the caller checked)."""
        headers = {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5" if html_only else "*/*"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current = url
        for _ in range(_MAX_HOPS):
            answer = self._get(current, headers=headers)
            if answer.outcome != "ok" or answer.status not in _REDIRECTS:
                answer.url = current
                return self._judged(answer, html_only)
            target = canonical_url(answer.reason or "", current)
            if target is None:
                return Fetch(url, "skipped", answer.status, code="bad_redirect",
                             reason="redirects to a URL that is not http(s)")
            if not self.on_site(target):
                return Fetch(url, "skipped", answer.status, code="off_host_redirect",
                             reason=f"redirects to another host ({host_of(target)}), not followed")
            if not self.allowed(target):
                return Fetch(url, "skipped", answer.status, code="robots_disallowed",
                             reason="redirects to a path robots.txt forbids, not followed")
            current = target
        return Fetch(url, "failed", code="too_many_redirects", reason=f"more than {_MAX_HOPS} redirects")

    def _judged(self, answer: Fetch, html_only: bool) -> Fetch:
        status = answer.status or 0
        if status == 304:
            answer.outcome = "not_modified"
        elif status in (404, 410):
            answer.outcome, answer.code, answer.reason = "gone", f"http_{status}", f"the page answers {status}"
        elif status >= 500 or status in (408, 429) or (400 <= status < 500 and status not in (404, 410)):
            answer.outcome, answer.code = "failed", f"http_{status}"
            answer.reason = f"the page answers {status}; the last good version is kept and it is fetched again " \
                            "next sync"
        elif status >= 300:
            answer.outcome, answer.code, answer.reason = "skipped", "bad_redirect", f"a {status} without a Location"
        elif html_only and answer.content_type.split(";")[0].strip().lower() not in _HTML_TYPES:
            answer.outcome, answer.code = "skipped", "unsupported_type"
            answer.reason = f"the page is {answer.content_type or 'of no declared type'}, not HTML"
        answer.body = answer.body if answer.outcome == "ok" else b""
        return answer

    def _get(self, url: str, *, headers: dict[str, str]) -> Fetch:
        """One request, after the host's pause; a redirect comes back with its Location in ``reason``."""
        self._pause(host_of(url))
        self.requests += 1
        try:
            got = fetch(self._client, "GET", url, policy=self.policy, follow_redirects=False,
                        headers={"User-Agent": self.agent, **headers})
        except UnsafeUrlError as exc:
            return Fetch(url, "skipped", code=exc.code, reason=exc.message)
        except ResponseTooLargeError as exc:
            return Fetch(url, "skipped", code="page_too_large", reason=exc.message)
        except (OutboundTimeoutError, OutboundError) as exc:
            return Fetch(url, "failed", code=exc.code, reason=exc.message)
        except PolydeskError as exc:
            return Fetch(url, "failed", code=exc.code, reason=exc.message)
        fetched = Fetch(url, "ok", got.status, got.body, got.headers.get("content-type", ""),
                        got.headers.get("etag"), got.headers.get("last-modified"))
        if got.status in _REDIRECTS:
            fetched.reason = got.headers.get("location", "")
        return fetched

    def _pause(self, host: str) -> None:
        interval = max(1.0 / self.settings.web_rate_per_second, self._delay.get(host, 0.0))
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_at.get(host, now))
            self._next_at[host] = start + interval
        if start > now:
            time.sleep(start - now)


def read_sitemap(body: bytes, *, max_bytes: int) -> tuple[list[str], list[str]]:
    """The page URLs and the child sitemaps of a sitemap or sitemap index (gzip accepted); no entities, no
    network. Raises ``ValueError`` when it is not a sitemap."""
    from lxml import etree

    if body[:2] == b"\x1f\x8b":
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as unpacked:
            body = unpacked.read(max_bytes + 1)
        if len(body) > max_bytes:
            raise ValueError("the unpacked sitemap is over the page size cap")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=False)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"not XML: {exc}") from exc
    name = etree.QName(root).localname
    if name not in ("urlset", "sitemapindex"):
        raise ValueError(f"not a sitemap (root element {name!r})")
    locs = [(el.text or "").strip() for el in root.iter() if isinstance(el.tag, str)
            and etree.QName(el).localname == "loc"]
    urls = [u for u in (canonical_url(loc) for loc in locs if loc) if u is not None]
    return (urls, []) if name == "urlset" else ([], urls)

