"""The console's outcomes page (admin role): what the bot resolved, what it handed over and why, how fast, what
customers thought, and what they asked that the knowledge could not answer.

The numbers are the API's: the page calls ``api.routes.analytics.analytics_summary`` (``GET
/v1/analytics/summary``) with the session's caller, which reads the counters kept in Redis as messages flow; the
page adds charts (server-made SVG) and nothing else. Ids for tests: ``#outcomes-filter`` (GET form: ``from``,
``to``, ``market``), ``#totals`` with ``data-conversations``, ``data-messages``, ``data-handoffs``,
``data-resolved-share``; ``#markets`` rows ``tr[data-market=XX]`` with the same ``data-*`` numbers;
``#daily-chart``, ``#reasons-chart``; ``#gaps-XX`` lists of the market's top unanswered questions
(``li[data-count]``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from agent.outcomes import Outcome
from api.console.charts import horizontal_bars, stacked_columns
from api.console.i18n import Translate, translator
from api.console.web import PREFIX, AdminUser, language_of, render
from api.deps import ServicesDep
from api.routes.analytics import analytics_summary

router = APIRouter(prefix=f"{PREFIX}/outcomes", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
def page(request: Request, user: AdminUser, services: ServicesDep,
         start: Annotated[dt.date | None, Query(alias="from")] = None,
         end: Annotated[dt.date | None, Query(alias="to")] = None,
         market: Annotated[str | None, Query(max_length=8)] = None) -> HTMLResponse:
    summary = analytics_summary(user.caller, services, start=start, end=end, market=market or None)
    t = translator(language_of(request))
    days = [day.isoformat() for day in (summary.from_ + dt.timedelta(days=i) for i in range(summary.days))]
    daily = [(day, [_resolved(m.by_day[day]) for m in summary.markets.values()],
              [m.by_day[day].handed_off_conversations for m in summary.markets.values()]) for day in days]
    daily_chart = stacked_columns([(day, (sum(resolved), sum(handed))) for day, resolved, handed in daily],
                                  series=(t("outcomes.resolved_by_bot"), t("outcomes.handed_off")),
                                  title=t("outcomes.daily_chart"))
    reasons = sorted(summary.totals.handoffs_by_reason.items(), key=lambda item: -item[1])
    queues = sorted(summary.totals.handoffs_by_queue.items(), key=lambda item: -item[1])
    return render(request, "outcomes.html", {
        "summary": summary, "market": market or "", "markets_known": [m.code for m in services.catalog.markets()],
        "daily_chart": daily_chart,
        "reasons_chart": horizontal_bars([(_reason(t, r), n) for r, n in reasons], title=t("outcomes.by_reason")),
        "queues_chart": horizontal_bars(queues, title=t("outcomes.by_queue")),
        "share": _share, "duration": _duration, "reason": lambda code: _reason(t, code),
    }, user=user)


def _resolved(outcome: Outcome) -> int:
    return outcome.conversations - outcome.handed_off_conversations


def _reason(t: Translate, reason: str) -> str:
    """A handoff reason in words when the console knows it, else its code."""
    key = f"outcomes.reason.{reason}"
    label = t(key)
    return reason if label == key else label


def _share(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _duration(value: float | None, unit: str = "ms") -> str:
    if value is None:
        return "–"
    if unit == "s":
        return f"{value:.0f} s" if value < 120 else f"{value / 60:.1f} min"
    return f"{value:.0f} ms"
