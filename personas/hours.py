"""Support hours: a weekly schedule of opening slots plus holidays, read in the market's time zone.

Days are ISO weekday numbers (1 = Monday ... 7 = Sunday, as in the demo
brand's ``facts.yaml``) or names (``mon``, ``monday``). Times are quoted
``"HH:MM"`` strings; ``"24:00"`` closes at midnight. A day may have several
slots; a day with none is closed. Holidays are dates (``2026-12-24``, one
year) or month-days (``"12-25"``, every year), optionally with a name.

Example:
    >>> from zoneinfo import ZoneInfo
    >>> hours = SupportHours.model_validate({
    ...     "schedule": [{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "10:00", "close": "18:00"}],
    ...     "holidays": ["01-01", {"date": "2026-05-05", "name": "こどもの日"}]})
    >>> tokyo = ZoneInfo("Asia/Tokyo")
    >>> hours.is_open(dt.datetime(2026, 5, 4, 10, 0, tzinfo=tokyo), tokyo)  # Monday
    True
    >>> hours.next_opening(dt.datetime(2026, 5, 4, 18, 0, tzinfo=tokyo), tokyo).isoformat()
    '2026-05-06T10:00:00+09:00'
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

_DAY_NAMES = {name: number for number, names in enumerate(
    [("mon", "monday"), ("tue", "tuesday"), ("wed", "wednesday"), ("thu", "thursday"),
     ("fri", "friday"), ("sat", "saturday"), ("sun", "sunday")], start=1) for name in names}
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")
# Two years covers any schedule with at least one slot, whatever the annual holidays.
_SEARCH_DAYS = 2 * 366


class Slot(BaseModel):
    """One opening period, ``open`` inclusive and ``close`` exclusive, on the listed weekdays."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    days: tuple[int, ...] = Field(min_length=1, description="ISO weekdays, 1 = Monday")
    open: str
    close: str

    @field_validator("days", mode="before")
    @classmethod
    def _day_numbers(cls, value: object) -> object:
        if not isinstance(value, list | tuple):
            return value
        days: list[int] = []
        for day in value:
            if isinstance(day, str) and day.strip().lower() in _DAY_NAMES:
                days.append(_DAY_NAMES[day.strip().lower()])
            elif isinstance(day, int) and not isinstance(day, bool) and 1 <= day <= 7:
                days.append(day)
            else:
                raise ValueError(f"{day!r} is not a weekday (1-7, 1 = Monday, or a name such as 'mon')")
        if len(set(days)) != len(days):
            raise ValueError("a weekday is listed twice")
        return tuple(sorted(days))

    @field_validator("open", "close", mode="before")
    @classmethod
    def _quoted_time(cls, value: object) -> object:
        if isinstance(value, int):
            raise ValueError(
                f'write times as quoted "HH:MM" strings such as "18:00" (YAML reads an unquoted 18:00 as the '
                f"number 1080); got the number {value}"
            )
        return value

    @field_validator("open", "close")
    @classmethod
    def _time_format(cls, value: str) -> str:
        if not _TIME.match(value):
            raise ValueError(f'{value!r} is not a time of day "HH:MM" (00:00 to 24:00)')
        return value

    @model_validator(mode="after")
    def _close_after_open(self) -> Slot:
        if self.close_offset <= self.open_offset:
            raise ValueError(
                f"closes ({self.close}) before it opens ({self.open}); "
                'split hours past midnight into two slots, e.g. "22:00"-"24:00" and "00:00"-"02:00"'
            )
        return self

    @property
    def open_offset(self) -> dt.timedelta:
        hours, minutes = self.open.split(":")
        return dt.timedelta(hours=int(hours), minutes=int(minutes))

    @property
    def close_offset(self) -> dt.timedelta:
        hours, minutes = self.close.split(":")
        return dt.timedelta(hours=int(hours), minutes=int(minutes))


class Holiday(BaseModel):
    """A closed date: ``YYYY-MM-DD`` (that day only) or ``MM-DD`` (that day every year)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    date: str
    name: str = ""

    @model_validator(mode="before")
    @classmethod
    def _bare_date(cls, value: object) -> object:
        if isinstance(value, dt.date | str):
            return {"date": value}
        return value

    @field_validator("date", mode="before")
    @classmethod
    def _canonical(cls, value: object) -> object:
        if isinstance(value, dt.datetime):
            raise ValueError(f"{value} is a moment, not a date")
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, str):
            value = value.strip()
            match = _MONTH_DAY.match(value)
            try:
                if match:
                    dt.date(2000, int(match[1]), int(match[2]))  # a leap year, so 02-29 is accepted
                else:
                    dt.date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a date (YYYY-MM-DD) or a yearly month-day (MM-DD)") from None
        return value

    @property
    def yearly(self) -> bool:
        return len(self.date) == 5

    def falls_on(self, day: dt.date) -> bool:
        return self.date in _date_keys(day)


def _date_keys(day: dt.date) -> tuple[str, str]:
    """The two ways a holiday can name ``day``: ``YYYY-MM-DD`` and ``MM-DD``."""
    full = day.isoformat()
    return full, full[5:]


class SupportHours(BaseModel):
    """When humans answer: a weekly schedule and the holidays it skips."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schedule: tuple[Slot, ...] = Field(min_length=1)
    holidays: tuple[Holiday, ...] = ()

    _by_day: dict[int, list[Slot]] = PrivateAttr(default_factory=dict)
    _closed_dates: frozenset[str] = PrivateAttr(default=frozenset())

    @model_validator(mode="after")
    def _no_overlaps(self) -> SupportHours:
        by_day: dict[int, list[Slot]] = {day: [] for day in range(1, 8)}
        for slot in self.schedule:
            for day in slot.days:
                by_day[day].append(slot)
        for day, slots in by_day.items():
            slots.sort(key=lambda slot: slot.open_offset)
            for earlier, later in itertools.pairwise(slots):
                if later.open_offset < earlier.close_offset:
                    raise ValueError(
                        f"slots {earlier.open}-{earlier.close} and {later.open}-{later.close} overlap on weekday {day}"
                    )
        self._by_day = by_day
        self._closed_dates = frozenset(holiday.date for holiday in self.holidays)
        return self

    def is_holiday(self, day: dt.date) -> bool:
        return not self._closed_dates.isdisjoint(_date_keys(day))

    def slots_on(self, day: dt.date) -> list[Slot]:
        """The opening slots of a local calendar day (none on holidays), earliest first."""
        return [] if self.is_holiday(day) else self._by_day[day.isoweekday()]

    def is_open(self, at: dt.datetime, zone: ZoneInfo) -> bool:
        local = _aware(at, "at").astimezone(zone)
        since_midnight = dt.timedelta(
            hours=local.hour, minutes=local.minute, seconds=local.second, microseconds=local.microsecond
        )
        return any(slot.open_offset <= since_midnight < slot.close_offset for slot in self.slots_on(local.date()))

    def next_opening(self, after: dt.datetime, zone: ZoneInfo) -> dt.datetime:
        """``after`` itself (in the market's zone) when open then, else the start of the next slot."""
        local = _aware(after, "after").astimezone(zone)
        if self.is_open(local, zone):
            return local
        for offset in range(_SEARCH_DAYS):
            day = local.date() + dt.timedelta(days=offset)
            for slot in self.slots_on(day):
                start = dt.datetime.combine(day, dt.time(), tzinfo=zone) + slot.open_offset
                if start > local:
                    return start
        raise ValueError("support never opens: every day of the next two years is a holiday or has no slot")

    def add_open_time(self, start: dt.datetime, duration: dt.timedelta, zone: ZoneInfo) -> dt.datetime:
        """The moment ``duration`` of open hours has passed since ``start`` (nights, weekends, holidays skipped).

        This is how a response time "counted in support hours" becomes a promise: 4 hours from Friday 16:00 with
        hours 08:00-18:00 on weekdays is Monday 10:00.
        """
        local = _aware(start, "start").astimezone(zone)
        left = duration
        for offset in range(_SEARCH_DAYS):
            day = local.date() + dt.timedelta(days=offset)
            midnight = dt.datetime.combine(day, dt.time(), tzinfo=zone)
            for slot in self.slots_on(day):
                begin = max(local, midnight + slot.open_offset)
                end = midnight + slot.close_offset
                if begin >= end:
                    continue
                if end - begin >= left:
                    return begin + left
                left -= end - begin
        raise ValueError("support never opens: every day of the next two years is a holiday or has no slot")


def _aware(moment: dt.datetime, name: str) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (e.g. datetime.now(UTC)), got naive {moment.isoformat()}")
    return moment
