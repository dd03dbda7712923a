"""Working-hours arithmetic for first-touch SLAs (time zone, weekdays, hours, holidays, make-up days)."""

import datetime
import zoneinfo
from dataclasses import dataclass, field

DEFAULT_WEEKDAYS = (0, 1, 2, 3, 4)


@dataclass(frozen=True)
class Calendar:
    timezone: str = "Asia/Shanghai"
    weekdays: tuple[int, ...] = DEFAULT_WEEKDAYS
    day_start: datetime.time = datetime.time(9, 0)
    day_end: datetime.time = datetime.time(18, 0)
    holidays: frozenset[datetime.date] = field(default_factory=frozenset)
    extra_workdays: frozenset[datetime.date] = field(default_factory=frozenset)

    @classmethod
    def from_model(cls, calendar) -> "Calendar":
        if calendar is None:
            return cls()
        exceptions = list(calendar.exceptions.all())
        return cls(
            timezone=calendar.timezone,
            weekdays=tuple(int(d) for d in (calendar.weekdays or [])),
            day_start=calendar.day_start,
            day_end=calendar.day_end,
            holidays=frozenset(e.date for e in exceptions if not e.working),
            extra_workdays=frozenset(e.date for e in exceptions if e.working),
        )

    def is_working_day(self, day: datetime.date) -> bool:
        if day in self.holidays:
            return False
        return day in self.extra_workdays or day.weekday() in self.weekdays

    def add_working_minutes(self, start: datetime.datetime, minutes: int) -> datetime.datetime:
        """The moment `minutes` working minutes after `start` (aware datetimes, result in UTC)."""
        tz = zoneinfo.ZoneInfo(self.timezone)
        current = start.astimezone(tz)
        remaining = datetime.timedelta(minutes=minutes)
        day = current.date()
        for _ in range(3660):
            if self.is_working_day(day):
                opens = datetime.datetime.combine(day, self.day_start, tzinfo=tz)
                closes = datetime.datetime.combine(day, self.day_end, tzinfo=tz)
                begin = max(current, opens)
                if begin < closes:
                    available = closes - begin
                    if remaining <= available:
                        return (begin + remaining).astimezone(datetime.UTC)
                    remaining -= available
            day += datetime.timedelta(days=1)
            current = datetime.datetime.combine(day, datetime.time(0, 0), tzinfo=tz)
        raise ValueError("The calendar has no working time.")

    def local_date(self, moment: datetime.datetime) -> datetime.date:
        return moment.astimezone(zoneinfo.ZoneInfo(self.timezone)).date()
