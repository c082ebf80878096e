"""Outcome counters: what the bot resolved, what it handed to people, how fast, and what customers thought.

Counters are kept as messages flow, never computed by scanning conversations. Per tenant and UTC day one Redis
hash ``polydesk:outcomes:<tenant>:<YYYY-MM-DD>`` holds integers under ``<market>|<channel>|<metric>``:

- ``conversations`` (on the day a conversation started), ``messages`` (every customer message the agent took),
  ``bot_replies`` (answered by the bot), ``silent`` (a person owned the conversation: no bot reply);
- ``handoffs``, ``handoff_reason|<reason>``, ``handoff_queue|<queue>``: each change of owner from the bot to a
  person (a repeated ``handoff`` event for a conversation a person already owns is not counted again);
- ``handed_off``: conversations handed off at least once, counted on the day and channel **the conversation
  started** (a cohort), so ``resolved_share = 1 - handed_off / conversations`` of a day or range stays in [0, 1];
- ``bot_ms|<bucket>`` and ``first_response_s|<bucket>``: log-scale histograms (``BUCKETS_PER_DECADE`` buckets per
  power of ten; bucket ``i`` holds values in ``(10**((i-1)/16), 10**(i/16)]``, bucket 0 everything up to 1). The
  median and p95 of a range are read from the merged histograms, interpolated linearly inside their bucket
  (within about 15 % of the exact value);
- ``feedback_up``, ``feedback_down`` (``agent.feedback``), ``unanswered`` and ``gap|<group>`` (``agent.gaps``).

Each event's writes run in one Lua script (one round trip, atomic). Whether a message starts a conversation, a
handoff is a new one, or a desk reply is the first after a handoff is decided inside the script on a small
per-conversation marker hash ``polydesk:outconv:<tenant>:<conversation id>`` (start day and segment, when a person
took over; kept as long as the conversation), so every count is exact. The hooks: ``Agent.answer`` calls
``record_reply`` (previews and warm-up never), ``EventLog.publish`` calls ``record_event`` in the caller's
transaction (handoffs, releases, desk replies).

Example:
    >>> recorder = OutcomeRecorder.from_settings(client, settings)                      # doctest: +SKIP
    >>> OutcomesReader(client).summary("tidewell", dt.date(2026, 3, 1), dt.date(2026, 3, 30)).totals.messages
    1523
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np
import redis
from pydantic import BaseModel, ConfigDict, Field

from agent.events import HandoffEvent
from agent.gaps import GapGroups, UnansweredQuestion
from agent.schema import AnswerRequest, Reply
from knowledge.schema import normalize_market
from polydesk.errors import InputError, StoreError
from polydesk.redisdb import redis_errors
from polydesk.settings import Settings

log = logging.getLogger("polydesk.outcomes")

DAY_PREFIX = "polydesk:outcomes"
MARKER_PREFIX = "polydesk:outconv"
BUCKETS_PER_DECADE = 16
MAX_RANGE_DAYS = 366
DEFAULT_RANGE_DAYS = 30
TOP_UNANSWERED = 10

# KEYS: marker, today's hash. ARGV: day-key prefix, today, segment, now (UNIX s), retention s, marker ttl s, kind,
# reason, queue, the bot replies to add to the marker, the count n of pairs (metric, k) to add, those pairs, then
# pairs (metric, value) to observe.
_RECORD = """
local marker, daykey = KEYS[1], KEYS[2]
local prefix, today, seg, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local retention, marker_ttl, kind = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
local function add(field, n) redis.call('HINCRBY', daykey, seg .. '|' .. field, n) end
local function observe(metric, x)
  local i = 0
  if x > 1 then i = math.ceil(math.log10(x) * PER_DECADE - 1e-9) end
  add(metric .. '|' .. i, 1)
end
if kind == 'message' or kind == 'handoff' then
  if redis.call('HSETNX', marker, 'day', today) == 1 then
    redis.call('HSET', marker, 'seg', seg)
    add('conversations', 1)
  end
end
if kind == 'handoff' then
  if redis.call('HSETNX', marker, 'human', now) == 1 then
    add('handoffs', 1)
    add('handoff_reason|' .. ARGV[8], 1)
    add('handoff_queue|' .. ARGV[9], 1)
    redis.call('HSET', marker, 'handoff_at', now)
    redis.call('HDEL', marker, 'replied')
    if redis.call('HSETNX', marker, 'handed_off', '1') == 1 then
      local startkey = prefix .. redis.call('HGET', marker, 'day')
      redis.call('HINCRBY', startkey, redis.call('HGET', marker, 'seg') .. '|handed_off', 1)
      redis.call('EXPIRE', startkey, retention)
    end
  end
elseif kind == 'release' then
  redis.call('HDEL', marker, 'human')
elseif kind == 'reply' then
  local at = redis.call('HGET', marker, 'handoff_at')
  if at and redis.call('HSETNX', marker, 'replied', '1') == 1 then
    observe('first_response_s', tonumber(now) - tonumber(at))
  end
end
if tonumber(ARGV[10]) > 0 then redis.call('HINCRBY', marker, 'bot_replies', tonumber(ARGV[10])) end
local n = tonumber(ARGV[11])
for i = 12, 11 + 2 * n, 2 do add(ARGV[i], tonumber(ARGV[i + 1])) end
for i = 12 + 2 * n, #ARGV, 2 do observe(ARGV[i], tonumber(ARGV[i + 1])) end
redis.call('EXPIRE', daykey, retention)
if redis.call('EXISTS', marker) == 1 then redis.call('EXPIRE', marker, marker_ttl) end
return 1
""".replace("PER_DECADE", str(BUCKETS_PER_DECADE))


# KEYS: day hashes. ARGV: a field prefix ("DE|", or "" for all). Returns one string per day of "market|metric=n"
# lines (the day's channels merged), then one string of "market|channel|metric=n" lines summed over these days:
# merged here, the summary parses about a fifth of the ~100,000 fields a month holds (the pure-Python RESP parser
# and a Python loop over every field took longer than everything else).
_READ = """
local out, prefix, total = {}, ARGV[1], {}
local function lines(counts)
  local parts = {}
  for field, n in pairs(counts) do parts[#parts + 1] = field .. '=' .. string.format('%d', n) end
  return table.concat(parts, '\\n')
end
for i, key in ipairs(KEYS) do
  local h, day = redis.call('HGETALL', key), {}
  for j = 1, #h, 2 do
    local field = h[j]
    if prefix == '' or string.sub(field, 1, #prefix) == prefix then
      local n = tonumber(h[j + 1])
      total[field] = (total[field] or 0) + n
      local a = string.find(field, '|', 1, true)
      local b = string.find(field, '|', a + 1, true)
      local merged = string.sub(field, 1, a) .. string.sub(field, b + 1)
      day[merged] = (day[merged] or 0) + n
    end
  end
  out[i] = lines(day)
end
out[#KEYS + 1] = lines(total)
return out
"""
_DAY_LINE = re.compile(r"^([^|\n]*)\|([^=\n]*)=(-?\d+)$", re.M)  # market, metric, count
_LINE = re.compile(r"^([^|\n]*)\|([^|\n]*)\|([^=\n]*)=(-?\d+)$", re.M)  # market, channel, metric, count
_READ_DAYS = 31  # days per script call: other clients run between calls


def day_key(tenant: str, day: dt.date | str) -> str:
    return f"{DAY_PREFIX}:{tenant}:{day}"


def marker_key(tenant: str, conversation_id: str) -> str:
    return f"{MARKER_PREFIX}:{tenant}:{conversation_id}"


def utc_day(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).date().isoformat()


class OutcomeRecorder:
    """Records replies (``record_reply``) and desk events (``record_event``) into the day counters (module doc).

    Recording never fails an answer: a Redis error while recording a reply is logged and the counts miss it.
    """

    def __init__(self, client: redis.Redis, *, retention_s: int, marker_ttl_s: int,
                 gaps: GapGroups | None = None) -> None:
        self.client = client  # the caller's
        self.retention_s, self.marker_ttl_s = retention_s, marker_ttl_s
        self.gaps = gaps or GapGroups(client, retention_s=retention_s)
        self._script = client.register_script(_RECORD)

    @classmethod
    def from_settings(cls, client: redis.Redis, settings: Settings) -> OutcomeRecorder:
        return cls(client, retention_s=settings.outcomes_retention_days * 86400,
                   marker_ttl_s=int(settings.conversation_ttl_hours * 3600))

    def record_reply(self, request: AnswerRequest, reply: Reply, *, gap: np.ndarray | None = None,
                     at: float | None = None, pipe: redis.client.Pipeline | None = None) -> None:
        """One customer message and the agent's reply. ``gap``: the message's embedding when retrieval could not
        answer it (a knowledge gap; small talk and handoff replies never are). ``pipe`` (seeding in bulk): queue the
        writes there; the caller executes it."""
        at = time.time() if at is None else at
        segment = f"{reply.market or request.market}|{request.channel}"
        answered = reply.status == "answered"
        adds: dict[str, int] = {"messages": 1, "bot_replies" if answered else "silent": 1}
        observe = {"bot_ms": reply.timings_ms["total"]} if answered and "total" in reply.timings_ms else {}
        is_gap = gap is not None and answered and reply.generator not in ("handoff", "smalltalk")
        if is_gap:
            adds["unanswered"] = 1
        args = self._args(request.tenant, utc_day(at), segment, at, "message", adds, observe,
                          bot_replies=int(answered))
        keys = [marker_key(request.tenant, reply.conversation_id), day_key(request.tenant, utc_day(at))]
        try:
            if pipe is not None:
                self._script(keys=keys, args=args, client=pipe)
            else:
                with redis_errors("record the reply's outcome"):
                    self._script(keys=keys, args=args)
            if is_gap and gap is not None:
                self.gaps.record(request.tenant, reply.market or request.market, str(request.channel), gap,
                                 text=request.message, language=reply.language,
                                 day_key=day_key(request.tenant, utc_day(at)), pipe=pipe)
        except StoreError as exc:
            log.warning("outcome not recorded: %s", exc)

    def record_event(self, event: HandoffEvent, *, pipe: redis.client.Pipeline | None = None) -> None:
        """A handoff, release or desk reply event (others are ignored); queued on ``pipe`` when given, so it
        commits with the caller's transaction."""
        if event.type not in ("handoff", "release", "reply"):
            return
        at = event.created_at.timestamp()
        day = event.created_at.date().isoformat()
        args = self._args(event.tenant, day, f"{event.market}|{event.channel}", at, event.type, {}, {},
                          reason=event.reason or "unknown", queue=event.queue or "support")
        keys = [marker_key(event.tenant, event.conversation_id), day_key(event.tenant, day)]
        if pipe is not None:
            self._script(keys=keys, args=args, client=pipe)
            return
        with redis_errors("record the event's outcome"):
            self._script(keys=keys, args=args)

    def _args(self, tenant: str, day: str, segment: str, at: float, kind: str, adds: dict[str, int],
              observe: dict[str, float], *, reason: str = "", queue: str = "", bot_replies: int = 0) -> list[Any]:
        return [day_key(tenant, ""), day, segment, repr(at), self.retention_s, self.marker_ttl_s, kind, reason, queue,
                bot_replies, len(adds), *(x for pair in adds.items() for x in pair),
                *(x for pair in observe.items() for x in pair)]


def bot_replies(client: redis.Redis, tenant: str, conversation_id: str) -> int:
    """How many times the bot replied in the conversation since it was first recorded (feedback's reply ids)."""
    with redis_errors("read the conversation's replies"):
        raw = client.hget(marker_key(tenant, conversation_id), "bot_replies")
    return int(raw) if raw is not None else 0


# -- reading -----------------------------------------------------------------------------------------------------


class Latency(BaseModel):
    count: int = Field(description="observations")
    median: float | None = Field(description="interpolated in its log-scale bucket; null without observations")
    p95: float | None


class FeedbackCounts(BaseModel):
    up: int
    down: int


class Outcome(BaseModel):
    conversations: int = Field(description="conversations started")
    messages: int = Field(description="customer messages the agent took")
    bot_replies: int = Field(description="messages the bot replied to (the others arrived while a person owned "
                             "the conversation)")
    handed_off_conversations: int = Field(description="of the conversations started, those handed to a person "
                                          "(at any time since)")
    resolved_share: float | None = Field(description="conversations never handed off / conversations; null "
                                         "without conversations")
    handoffs: int = Field(description="changes of owner from the bot to a person")
    handoffs_by_reason: dict[str, int]
    handoffs_by_queue: dict[str, int]
    bot_reply_ms: Latency = Field(description="the bot's reply time, milliseconds")
    human_first_response_s: Latency = Field(description="from a handoff to the first desk reply, seconds")
    feedback: FeedbackCounts
    unanswered_messages: int = Field(description="messages retrieval could not answer (knowledge gaps)")


class MarketOutcome(Outcome):
    by_day: dict[str, Outcome] = Field(description="every UTC day of the range, oldest first")
    by_channel: dict[str, Outcome]
    unanswered: list[UnansweredQuestion] = Field(description=f"the top {TOP_UNANSWERED} unanswered questions, "
                                                 "grouped by meaning, most frequent first")


class OutcomeSummary(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: dt.date = Field(alias="from", description="first UTC day, inclusive")
    to: dt.date = Field(description="last UTC day, inclusive")
    days: int
    market: str | None = Field(description="the market asked for; null for all")
    totals: Outcome = Field(description="over the selected markets")
    markets: dict[str, MarketOutcome]


def summary_range(start: dt.date | None, end: dt.date | None, *, today: dt.date | None = None
                  ) -> tuple[dt.date, dt.date]:
    """The inclusive range asked for: by default the last 30 UTC days, today included; ``InputError`` when it is
    reversed or longer than ``MAX_RANGE_DAYS``."""
    today = today or dt.datetime.now(dt.UTC).date()
    try:
        end = end or (today if start is None else min(today, start + dt.timedelta(days=DEFAULT_RANGE_DAYS - 1)))
        start = start or end - dt.timedelta(days=DEFAULT_RANGE_DAYS - 1)
    except OverflowError as exc:
        raise InputError("the dates are out of range") from exc
    if start > end:
        raise InputError(f"'from' ({start}) is after 'to' ({end})")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise InputError(f"the range is {(end - start).days + 1} days; at most {MAX_RANGE_DAYS}")
    return start, end


def summarize(client: redis.Redis, tenant: str, *, start: dt.date | None = None, end: dt.date | None = None,
              market: str | None = None) -> OutcomeSummary:
    """The summary the API serves and the CLI prints: the range (``summary_range``) and the market checked
    (``InputError``), then ``OutcomesReader.summary``."""
    first, last = summary_range(start, end)
    try:
        code = normalize_market(market) if market else None
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    return OutcomesReader(client).summary(tenant, first, last, code)


class OutcomesReader:
    """The summary of a tenant's outcomes over days: one pipelined round trip for the days' hashes, one for the
    unanswered questions' texts."""

    def __init__(self, client: redis.Redis, *, gaps: GapGroups | None = None) -> None:
        self.client = client
        self.gaps = gaps or GapGroups(client, retention_s=0)
        self._read = client.register_script(_READ)

    def summary(self, tenant: str, start: dt.date, end: dt.date, market: str | None = None) -> OutcomeSummary:
        days = [(start + dt.timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
        with redis_errors("read the outcomes"), self.client.pipeline(transaction=False) as pipe:
            for i in range(0, len(days), _READ_DAYS):
                self._read(keys=[day_key(tenant, day) for day in days[i:i + _READ_DAYS]],
                           args=[f"{market}|" if market else ""], client=pipe)
            chunks = pipe.execute()
        blobs = [blob for chunk in chunks for blob in chunk[:-1]]
        by_day: dict[str, dict[str, Counter[str]]] = defaultdict(dict)
        for day, blob in zip(days, blobs, strict=True):
            for code, metric, value in _DAY_LINE.findall(blob.decode()) if blob else ():
                if not metric.startswith("gap|"):
                    by_day[code].setdefault(day, Counter())[metric] += int(value)
        by_channel: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
        gap_counts: dict[str, Counter[str]] = defaultdict(Counter)
        for chunk in chunks:
            for code, channel, metric, value in _LINE.findall(chunk[-1].decode()) if chunk[-1] else ():
                if metric.startswith("gap|"):
                    gap_counts[code][metric[4:]] += int(value)
                else:
                    by_channel[code][channel][metric] += int(value)
        top = self.gaps.describe(tenant, {m: c.most_common() for m, c in gap_counts.items()}, TOP_UNANSWERED)
        markets: dict[str, MarketOutcome] = {}
        for code in sorted(set(by_day) | set(gap_counts)):
            total = _merged(by_day[code].values())
            markets[code] = MarketOutcome(
                **outcome(total).model_dump(),
                by_day={day: outcome(by_day[code].get(day, Counter())) for day in days},
                by_channel={channel: outcome(c) for channel, c in sorted(by_channel[code].items())},
                unanswered=top.get(code, []))
        totals = outcome(_merged(c for m in by_day.values() for c in m.values()))
        return OutcomeSummary.model_validate({"from": start, "to": end, "days": len(days), "market": market,
                                              "totals": totals, "markets": markets})


def _merged(counters: Iterable[Counter[str]]) -> Counter[str]:
    total: Counter[str] = Counter()
    for counter in counters:
        total.update(counter)
    return total


def outcome(counts: Counter[str]) -> Outcome:
    """The outcome of merged counters (one day, channel, market or all)."""
    grouped: dict[str, dict[str, int]] = defaultdict(dict)
    for metric, n in counts.items():
        if "|" in metric:
            name, key = metric.split("|", 1)
            grouped[name][key] = n
    conversations, handed_off = counts["conversations"], counts["handed_off"]
    return Outcome(
        conversations=conversations, messages=counts["messages"], bot_replies=counts["bot_replies"],
        handed_off_conversations=handed_off,
        resolved_share=round(max(0.0, 1 - handed_off / conversations), 4) if conversations else None,
        handoffs=counts["handoffs"],
        handoffs_by_reason=_sorted(grouped["handoff_reason"]), handoffs_by_queue=_sorted(grouped["handoff_queue"]),
        bot_reply_ms=latency(grouped["bot_ms"]), human_first_response_s=latency(grouped["first_response_s"]),
        feedback=FeedbackCounts(up=counts["feedback_up"], down=counts["feedback_down"]),
        unanswered_messages=counts["unanswered"])


def _sorted(counts: dict[str, int]) -> dict[str, int]:
    return dict(sorted(((k, v) for k, v in counts.items() if v), key=lambda kv: (-kv[1], kv[0])))


def bucket_bounds(bucket: int) -> tuple[float, float]:
    """The (lower, upper] bounds of a histogram bucket."""
    if bucket <= 0:
        return 0.0, 1.0
    return 10 ** ((bucket - 1) / BUCKETS_PER_DECADE), 10 ** (bucket / BUCKETS_PER_DECADE)


def latency(histogram: dict[str, int]) -> Latency:
    buckets = sorted((int(b), n) for b, n in histogram.items() if n > 0)
    total = sum(n for _, n in buckets)
    return Latency(count=total, median=_quantile(buckets, total, 0.5), p95=_quantile(buckets, total, 0.95))


def _quantile(buckets: list[tuple[int, int]], total: int, q: float) -> float | None:
    if not total:
        return None
    rank, seen = q * total, 0
    for bucket, n in buckets:
        if seen + n >= rank:
            lower, upper = bucket_bounds(bucket)
            value = lower + (upper - lower) * (rank - seen) / n
            return round(value, 3 if value < 10 else 1)
        seen += n
    return round(bucket_bounds(buckets[-1][0])[1], 1)
