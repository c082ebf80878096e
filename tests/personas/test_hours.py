"""Support hours: open or closed at a moment, and when support next opens, on the market's clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest

from personas.catalog import PersonaCatalog
from personas.hours import Holiday, SupportHours
from personas.market import Market

if TYPE_CHECKING:
    from tests.personas.conftest import DocumentMaker

pytestmark = pytest.mark.unit

TOKYO = ZoneInfo("Asia/Tokyo")
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def jp(catalog: PersonaCatalog) -> Market:
    return catalog.market("JP")


def test_japan_closes_at_18_tokyo_time_which_is_9_utc(jp: Market) -> None:
    # Monday 2 March 2026: 17:59 and 18:00 in Tokyo.
    assert jp.is_open(datetime(2026, 3, 2, 8, 59, tzinfo=UTC))
    assert not jp.is_open(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    assert jp.is_open(datetime(2026, 3, 2, 17, 59, tzinfo=TOKYO))
    assert not jp.is_open(datetime(2026, 3, 2, 18, 0, tzinfo=TOKYO))


def test_sunday_evening_utc_is_already_monday_morning_in_tokyo(jp: Market) -> None:
    sunday_utc = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)  # Monday 08:30 in Tokyo: not open yet
    assert not jp.is_open(sunday_utc)
    opening = jp.next_opening(sunday_utc)
    assert opening == datetime(2026, 3, 2, 10, 0, tzinfo=TOKYO)
    assert opening.utcoffset() == timedelta(hours=9)
    assert jp.is_open(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))  # Monday 10:00 in Tokyo


def test_next_opening_skips_the_weekend(jp: Market) -> None:
    friday_after_close = datetime(2026, 3, 6, 18, 0, tzinfo=TOKYO)
    assert jp.next_opening(friday_after_close) == datetime(2026, 3, 9, 10, 0, tzinfo=TOKYO)
    assert not jp.is_open(datetime(2026, 3, 7, 12, 0, tzinfo=TOKYO))  # Saturday noon


def test_next_opening_skips_holidays(jp: Market) -> None:
    # Tuesday 3 November 2026 is 文化の日.
    assert not jp.is_open(datetime(2026, 11, 3, 12, 0, tzinfo=TOKYO))
    assert jp.next_opening(datetime(2026, 11, 2, 18, 0, tzinfo=TOKYO)) == datetime(2026, 11, 4, 10, 0, tzinfo=TOKYO)
    # 年末年始: closed from 29 December to 3 January, every year.
    assert jp.next_opening(datetime(2027, 12, 28, 19, 0, tzinfo=TOKYO)) == datetime(2028, 1, 4, 10, 0, tzinfo=TOKYO)


def test_next_opening_is_now_when_open_and_on_the_markets_clock(jp: Market) -> None:
    moment = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # 12:00 in Tokyo
    assert jp.next_opening(moment) == moment
    assert jp.next_opening(moment).tzinfo == TOKYO


def test_later_slot_the_same_day_and_saturday_hours(catalog: PersonaCatalog) -> None:
    indonesia = catalog.market("ID")  # Mon-Fri 09-18, Saturday 09-14
    jakarta = ZoneInfo("Asia/Jakarta")
    assert indonesia.is_open(datetime(2026, 3, 7, 13, 59, tzinfo=jakarta))
    assert not indonesia.is_open(datetime(2026, 3, 7, 14, 0, tzinfo=jakarta))
    assert indonesia.next_opening(datetime(2026, 3, 7, 14, 0, tzinfo=jakarta)) == datetime(
        2026, 3, 9, 9, 0, tzinfo=jakarta
    )


def test_gulf_week_runs_sunday_to_thursday(catalog: PersonaCatalog) -> None:
    riyadh = ZoneInfo("Asia/Riyadh")
    saudi = catalog.market("SA")
    assert saudi.is_open(datetime(2026, 3, 1, 10, 0, tzinfo=riyadh))  # Sunday
    assert not saudi.is_open(datetime(2026, 3, 6, 10, 0, tzinfo=riyadh))  # Friday
    assert saudi.next_opening(datetime(2026, 3, 5, 17, 0, tzinfo=riyadh)) == datetime(2026, 3, 8, 9, 0, tzinfo=riyadh)


def test_split_days_and_dst_in_berlin(market_doc: DocumentMaker) -> None:
    market = Market.model_validate(market_doc(
        timezone="Europe/Berlin",
        support_hours={
            "schedule": [{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "08:00", "close": "12:00"},
                         {"days": ["mon", "tue", "wed", "thu", "fri"], "open": "13:00", "close": "17:00"}],
            "holidays": [date(2026, 4, 3), {"date": "05-01", "name": "Tag der Arbeit"}],
        },
    ))
    assert market.next_opening(datetime(2026, 3, 30, 12, 15, tzinfo=BERLIN)) == datetime(2026, 3, 30, 13, 0, tzinfo=BERLIN)
    # Good Friday 3 April 2026 is a one-off holiday; clocks went forward on 29 March (UTC+2 from then on).
    opening = market.next_opening(datetime(2026, 4, 2, 17, 0, tzinfo=BERLIN))
    assert opening == datetime(2026, 4, 6, 8, 0, tzinfo=BERLIN) and opening.utcoffset() == timedelta(hours=2)
    assert not market.is_open(datetime(2027, 4, 30, 22, 30, tzinfo=UTC)) and not market.is_open(
        datetime(2027, 5, 1, 8, 30, tzinfo=BERLIN)
    )
    assert market.is_open(datetime(2026, 3, 27, 7, 30, tzinfo=timezone(timedelta(hours=0))))  # 08:30 CET


def test_open_until_midnight_and_from_midnight() -> None:
    hours = SupportHours.model_validate({"schedule": [
        {"days": [1, 2, 3, 4, 5, 6, 7], "open": "00:00", "close": "24:00"},
    ]})
    assert hours.is_open(datetime(2026, 3, 1, 23, 59, 59, tzinfo=TOKYO), TOKYO)
    assert hours.is_open(datetime(2026, 3, 2, 0, 0, tzinfo=TOKYO), TOKYO)


def test_naive_datetimes_are_refused(jp: Market) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        jp.is_open(datetime(2026, 3, 2, 12, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        jp.next_opening(datetime(2026, 3, 2, 12, 0))


def test_a_schedule_made_only_of_holidays_never_opens() -> None:
    every_day_of_the_year = [(date(2000, 1, 1) + timedelta(days=n)).strftime("%m-%d") for n in range(366)]
    hours = SupportHours.model_validate({
        "schedule": [{"days": [1], "open": "09:00", "close": "10:00"}],
        "holidays": every_day_of_the_year,
    })
    with pytest.raises(ValueError, match="never opens"):
        hours.next_opening(datetime(2026, 1, 1, tzinfo=UTC), TOKYO)


def test_holiday_forms() -> None:
    assert Holiday.model_validate("12-25").falls_on(date(2031, 12, 25))
    assert Holiday.model_validate(date(2026, 12, 24)).falls_on(date(2026, 12, 24))
    assert not Holiday.model_validate(date(2026, 12, 24)).falls_on(date(2027, 12, 24))
    assert Holiday.model_validate({"date": "02-29", "name": "leap"}).falls_on(date(2028, 2, 29))
