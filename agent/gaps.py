"""Knowledge gaps: the questions the bot could not answer, grouped by meaning, per tenant and market.

A message whose retrieval confidence is under the market's ``thresholds.low_confidence`` (``agent.pipeline``)
brings its embedding here. It joins the nearest group of its tenant and market when their cosine is at least
``JOIN_COSINE``, else it starts a group whose representative is this message: its text redacted
(``polydesk.redaction``: e-mails, phones, cards, names, addresses) and its language. A group's vector is its first
message's, so a group does not drift. Groups are per market, in any language: a paraphrase in another language
joins when the model puts it close enough.

``JOIN_COSINE`` was picked on the demo brand with multilingual-e5-small: English and German paraphrases of one
question score 0.87-0.91, unrelated questions of one shop 0.72-0.85 (rarely 0.87 within one language); among the
eval suites' single messages, pairs on different topics reach 0.88 in under 1 % of pairs. German and Japanese
paraphrases score only 0.81-0.87 with this model: they stay apart rather than merge unrelated questions; a
content editor sees two entries rather than a hidden gap.

In Redis, per tenant and market (``polydesk:gaps:<tenant>:<market>:...``): ``vec`` (group → base64 float16 vector,
``agent.state.encode_vector``), ``text`` (group → JSON text and language), ``rank`` (a sorted set of all-time
counts: at most ``MAX_GROUPS`` groups, the least frequent goes when a new one comes) and ``rev`` (bumped on each
new group). The per-day counts live in the outcome day hashes (``agent.outcomes``: ``<market>|<channel>|gap|<id>``),
so any date range ranks the groups. Each process caches the vectors and reloads them when ``rev`` moved; a new
group is created only if ``rev`` is still what the process decided on (a Lua compare-and-set), so two processes
never start two groups for one question at once.

Example:
    >>> GapGroups(client, retention_s=400 * 86400).record("tidewell", "DE", "web", vector,      # doctest: +SKIP
    ...     text="Akzeptiert ihr Bitcoin?", language="de", day_key="polydesk:outcomes:tidewell:2026-03-02")
    '9f2c4e1a7b3d'
"""

from __future__ import annotations

import json
import logging
import threading
import uuid

import numpy as np
import redis
from pydantic import BaseModel, Field

from agent.state import decode_vector, encode_vector
from polydesk.redaction import Redactor
from polydesk.redisdb import redis_errors

log = logging.getLogger("polydesk.gaps")

GAP_PREFIX = "polydesk:gaps"
JOIN_COSINE = 0.88
MAX_GROUPS = 500
MAX_TEXT_CHARS = 300
_ATTEMPTS = 3

# KEYS: vec, text, rank, rev, the day hash. ARGV: group, new ('1'/'0'), expected rev, vector, text JSON, day field,
# max groups, retention s. Returns 0 when the cache was stale (the caller reloads and decides again).
_ASSIGN = """
local vec, texts, rank, rev, daykey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local gid, retention = ARGV[1], tonumber(ARGV[8])
if ARGV[2] == '1' then
  if (redis.call('GET', rev) or '0') ~= ARGV[3] then return 0 end
  if redis.call('ZCARD', rank) >= tonumber(ARGV[7]) then
    local out = redis.call('ZRANGE', rank, 0, 0)[1]
    redis.call('ZREM', rank, out)
    redis.call('HDEL', vec, out)
    redis.call('HDEL', texts, out)
  end
  redis.call('HSET', vec, gid, ARGV[4])
  redis.call('HSET', texts, gid, ARGV[5])
  redis.call('INCR', rev)
elseif not redis.call('ZSCORE', rank, gid) then
  return 0
end
redis.call('ZINCRBY', rank, 1, gid)
redis.call('HINCRBY', daykey, ARGV[6], 1)
for _, key in ipairs(KEYS) do redis.call('EXPIRE', key, retention) end
return 1
"""


class UnansweredQuestion(BaseModel):
    text: str = Field(description="a representative message of the group, PII redacted")
    language: str = Field(description="that message's language")
    count: int = Field(description="low-confidence messages of the group in the range")


class _Groups:
    """One tenant and market's groups as this process last read them."""

    def __init__(self, rev: str, ids: list[str], vectors: np.ndarray) -> None:
        self.rev, self.ids, self.vectors = rev, ids, vectors

    def nearest(self, vector: np.ndarray) -> tuple[str | None, float]:
        if not self.ids:
            return None, -1.0
        scores = self.vectors @ vector
        best = int(np.argmax(scores))
        return self.ids[best], float(scores[best])

    def with_group(self, gid: str, vector: np.ndarray) -> _Groups:
        vectors = np.vstack([self.vectors, vector[None, :]]) if self.ids else vector[None, :]
        return _Groups(str(int(self.rev) + 1), [*self.ids, gid], vectors)


class GapGroups:
    """Groups low-confidence messages by meaning (module doc); thread-safe."""

    def __init__(self, client: redis.Redis, *, retention_s: int, join_cosine: float = JOIN_COSINE,
                 max_groups: int = MAX_GROUPS) -> None:
        self.client = client  # the caller's
        self.retention_s, self.join_cosine, self.max_groups = retention_s, join_cosine, max_groups
        self._script = client.register_script(_ASSIGN)
        self._redactor = Redactor(people=True)
        self._cache: dict[tuple[str, str], _Groups] = {}
        self._lock = threading.Lock()

    @staticmethod
    def keys(tenant: str, market: str) -> list[str]:
        return [f"{GAP_PREFIX}:{tenant}:{market}:{part}" for part in ("vec", "text", "rank", "rev")]

    def record(self, tenant: str, market: str, channel: str, vector: np.ndarray, *, text: str, language: str,
               day_key: str, pipe: redis.client.Pipeline | None = None) -> str | None:
        """Count the message in its group (a new one if none is close) in the day hash ``day_key``
        (``agent.outcomes.day_key``); the group's id, or None when
        the groups kept changing under it (a count missed, logged). With ``pipe`` the writes are queued there
        (bulk seeding from one process: the cache is assumed current)."""
        unit = np.asarray(vector, dtype=np.float32)
        unit = unit / (float(np.linalg.norm(unit)) or 1.0)
        keys = [*self.keys(tenant, market), day_key]
        for _ in range(_ATTEMPTS):
            groups = self._groups(tenant, market)
            gid, score = groups.nearest(unit)
            new = gid is None or score < self.join_cosine
            if new:
                gid = uuid.uuid4().hex[:12]
            assert gid is not None
            shown = json.dumps({"text": self._redacted(text, market), "language": language}, ensure_ascii=False) \
                if new else ""
            args = [gid, "1" if new else "0", groups.rev, encode_vector(unit) if new else "", shown,
                    f"{market}|{channel}|gap|{gid}", self.max_groups, self.retention_s]
            if pipe is not None:
                self._script(keys=keys, args=args, client=pipe)
                done = True
            else:
                with redis_errors("record the unanswered question"):
                    done = bool(self._script(keys=keys, args=args))
            with self._lock:
                if not done:
                    self._cache.pop((tenant, market), None)
                    continue
                if new:
                    self._cache[(tenant, market)] = groups.with_group(gid, unit)
            return gid
        log.warning("unanswered question of %s/%s not grouped: the groups kept changing", tenant, market)
        return None

    def describe(self, tenant: str, ranked: dict[str, list[tuple[str, int]]],
                 top: int) -> dict[str, list[UnansweredQuestion]]:
        """Per market, the ``top`` groups of ``ranked`` (group ids with counts, most frequent first) that still
        exist, with their representative texts: one pipelined round trip."""
        wanted = {market: pairs[:top * 2] for market, pairs in ranked.items() if pairs}
        if not wanted:
            return {}
        with redis_errors("read the unanswered questions"), self.client.pipeline(transaction=False) as pipe:
            for market, pairs in wanted.items():
                pipe.hmget(self.keys(tenant, market)[1], [gid for gid, _ in pairs])
            texts = pipe.execute()
        found: dict[str, list[UnansweredQuestion]] = {}
        for (market, pairs), raws in zip(wanted.items(), texts, strict=True):
            questions = [UnansweredQuestion(**json.loads(raw), count=count)
                         for (_, count), raw in zip(pairs, raws, strict=True) if raw is not None]
            found[market] = questions[:top]
        return found

    def _groups(self, tenant: str, market: str) -> _Groups:
        vec_key, _, _, rev_key = self.keys(tenant, market)
        with redis_errors("read the unanswered questions' groups"):
            rev = _text(self.client.get(rev_key) or b"0")
            cached = self._cache.get((tenant, market))
            if cached is not None and cached.rev == rev:
                return cached
            with self.client.pipeline(transaction=True) as pipe:  # vectors and rev of one moment
                pipe.hgetall(vec_key)
                pipe.get(rev_key)
                raw, rev_now = pipe.execute()
        items = sorted((_text(k), _text(v)) for k, v in raw.items())
        ids = [gid for gid, _ in items]
        vectors = np.array([decode_vector(v) for _, v in items], dtype=np.float32) if items else np.zeros((0, 1))
        if ids:
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        groups = _Groups(_text(rev_now or b"0"), ids, vectors)
        with self._lock:
            self._cache[(tenant, market)] = groups
        return groups

    def _redacted(self, text: str, market: str) -> str:
        shown = self._redactor.redact(text, market=market).text
        return shown if len(shown) <= MAX_TEXT_CHARS else shown[:MAX_TEXT_CHARS - 1] + "…"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
