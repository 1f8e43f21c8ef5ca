"""Freeze windows: when deploys to some repos wait. Pure, and tested as such (no clock is read here:
the caller says when "now" is).

A window is written on the wall clock of a time zone, as people say it: weekly (`from = "Fri 16:00"`,
`to = "Mon 08:00"`, wrapping over the week's end) or once (`from = "2026-12-23 00:00"`, `to =
"2027-01-02 08:00"`). It is in force while that zone's wall clock reads at or after `from` and before
`to`, so a daylight-saving change moves it with the clock, as the people who wrote it expect.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from honk.domain import Record

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEK_S = 7 * 24 * 3600
OFFSET_STEP = timedelta(hours=6)
_WEEKLY = re.compile(r"^(?P<day>[A-Za-z]{3,9}) (?P<hour>\d{1,2}):(?P<minute>\d{2})$")
_DATED = re.compile(r"^\d{4}-\d{2}-\d{2} \d{1,2}:\d{2}$")
WHEN = '"Fri 16:00" (every week) or "2026-12-23 08:00" (once)'


def _weekly(text: str) -> int | None:
    """Seconds into the week (Monday 00:00 is 0) of "Fri 16:00", or None when it is not one."""
    found = _WEEKLY.match(text.strip())
    if found is None:
        return None
    day = found["day"].lower()
    index = DAYS.index(day) if day in DAYS else FULL_DAYS.index(day) if day in FULL_DAYS else None
    hour, minute = int(found["hour"]), int(found["minute"])
    if index is None or hour > 23 or minute > 59:
        return None
    return index * 86400 + hour * 3600 + minute * 60


def _dated(text: str) -> datetime | None:
    if not _DATED.match(text.strip()):
        return None
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d %H:%M")
    except ValueError:
        return None


class Freeze(Record):
    """`[[freeze]]`: while it is in force, deploys to `repos` wait (a revert, which puts back what was
    live, does not), except those of the people `allow` names."""

    repos: list[str] = Field(min_length=1)  # repo names, or "*" for every repo
    start: str = Field(alias="from")
    end: str = Field(alias="to")
    tz: str = "UTC"
    reason: str = ""  # said in the refusal: "release week", "the holidays"
    allow: list[str] = []  # principals who may deploy anyway (on call, for a fix that cannot wait)

    @field_validator("start", "end")
    @classmethod
    def _when(cls, value: str) -> str:
        if _weekly(value) is None and _dated(value) is None:
            raise PydanticCustomError("freeze_when", f"must be {WHEN}, got {{value!r}}", {"value": value})
        return value.strip()

    @field_validator("tz")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone(value)
        return value

    @model_validator(mode="after")
    def _same_kind(self) -> Freeze:
        weekly = (_weekly(self.start) is not None, _weekly(self.end) is not None)
        if weekly[0] != weekly[1]:
            raise PydanticCustomError("freeze_when", 'from and to must both be weekly ("Fri 16:00") or both dates')
        if weekly[0] and _weekly(self.start) == _weekly(self.end):
            raise PydanticCustomError("freeze_when", "from and to are the same moment: the window would be empty")
        start, end = _dated(self.start), _dated(self.end)
        if start is not None and end is not None and end <= start:
            raise PydanticCustomError("freeze_when", "to must come after from")
        return self

    @property
    def weekly(self) -> bool:
        return _weekly(self.start) is not None

    def covers(self, repo: str) -> bool:
        return "*" in self.repos or repo in self.repos

    def in_force(self, now: datetime) -> bool:
        """Whether the zone's wall clock at `now` (an aware instant) reads inside the window."""
        local = _local(now, self.tz)
        if self.weekly:
            start, end = _weekly(self.start), _weekly(self.end)
            assert start is not None and end is not None
            at = local.weekday() * 86400 + local.hour * 3600 + local.minute * 60 + local.second
            return start <= at < end if start < end else at >= start or at < end
        start_d, end_d = _dated(self.start), _dated(self.end)
        assert start_d is not None and end_d is not None
        return start_d <= local.replace(tzinfo=None) < end_d

    def ends(self, now: datetime) -> datetime:
        """When the window in force at `now` ends: the first instant after `now` outside it, in UTC.
        `now` must be inside it."""
        local = _local(now, self.tz).replace(tzinfo=None)
        if self.weekly:
            end = _weekly(self.end)
            assert end is not None
            at = local.weekday() * 86400 + local.hour * 3600 + local.minute * 60 + local.second
            target = local.replace(microsecond=0) + timedelta(seconds=(end - at) % WEEK_S or WEEK_S)
        else:
            target = _dated(self.end) or local
        where = zone(self.tz)
        guess = max(target.replace(tzinfo=where).astimezone(UTC), now + timedelta(seconds=1))
        # Where daylight saving moves the wall clock (past `to`, or back before `from`), the window ends
        # at that jump: each change of the zone's offset before the guess is looked at.
        at_ = now
        while at_ < guess:
            step = min(at_ + OFFSET_STEP, guess)
            if _offset(step, where) != _offset(at_, where):
                change = _change(at_, step, where)
                if not self.in_force(change):
                    return change
            at_ = step
        return guess

    def until(self) -> str:
        """The end as written, for messages: "Mon 08:00 (Europe/Stockholm)"."""
        return f"{self.end} ({self.tz})"


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PydanticCustomError(
            "freeze_tz", '{name!r} is not a time zone (use an IANA name like "Europe/Stockholm")', {"name": name}
        ) from None


def _offset(at: datetime, where: ZoneInfo) -> timedelta | None:
    return at.astimezone(where).utcoffset()


def _change(low: datetime, high: datetime, where: ZoneInfo) -> datetime:
    """The first whole second after `low` with `high`'s offset (zones change it at most a few times a year,
    never twice within OFFSET_STEP)."""
    after = _offset(high, where)
    low = low.replace(microsecond=0)
    while high - low > timedelta(seconds=1):
        mid = low + timedelta(seconds=(high - low).total_seconds() // 2)
        low, high = (low, mid) if _offset(mid, where) == after else (mid, high)
    return high


def _local(now: datetime, tz: str) -> datetime:
    if now.tzinfo is None:
        raise ValueError("a freeze is decided at an aware instant, not a naive time")
    return now.astimezone(zone(tz))


def in_force(freezes: list[Freeze], repo: str, now: datetime) -> list[tuple[int, Freeze]]:
    """The freezes (with their index in the file) that cover `repo` and are in force at `now`."""
    return [(i, f) for i, f in enumerate(freezes) if f.covers(repo) and f.in_force(now)]
