"""HTTP-date formatting and parsing (RFC 9110 §5.6.7).

Parsing is total: a value that is not one of the three formats a recipient must
accept yields ``None``, which callers treat as "header absent" -- RFC 9110 §13.1.3
and §13.1.4 say an invalid date in If-Modified-Since / If-Unmodified-Since is ignored.
"""

from __future__ import annotations

import calendar
import re
import time
from functools import lru_cache

__all__ = ["format_http_date", "parse_http_date"]

_MONTHS = {
    name: index
    for index, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
_DAYS = r"(?:mon|tue|wed|thu|fri|sat|sun)"
_LONG_DAYS = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_TIME = r"(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})"
_MON = r"(?P<mon>[a-z]{3})"

# IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
_IMF = re.compile(rf"{_DAYS}, (?P<day>\d{{2}}) {_MON} (?P<year>\d{{4}}) {_TIME} gmt", re.ASCII)
# obsolete RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
_RFC850 = re.compile(
    rf"{_LONG_DAYS}, (?P<day>\d{{2}})-{_MON}-(?P<year>\d{{2}}) {_TIME} gmt", re.ASCII
)
# obsolete asctime: Sun Nov  6 08:49:37 1994
_ASCTIME = re.compile(rf"{_DAYS} {_MON} (?P<day>[ \d]\d) {_TIME} (?P<year>\d{{4}})", re.ASCII)

# Longest valid form is the RFC 850 one with "Wednesday": anything much longer is junk
# and is refused before the regexes run.
_MAX_LEN = 40


def format_http_date(epoch_seconds: float) -> str:
    """IMF-fixdate for a POSIX timestamp; fractions are dropped (HTTP dates have 1 s resolution)."""
    return _format(int(epoch_seconds))


@lru_cache(maxsize=1024)
def _format(seconds: int) -> str:
    # Cached: a media server formats the same few mtimes over and over.
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(seconds))


def parse_http_date(value: str | None) -> int | None:
    """POSIX seconds for an HTTP-date, or ``None`` when it is absent or not a valid date."""
    if not value or len(value) > _MAX_LEN:
        return None
    text = value.strip().lower()
    match = _IMF.fullmatch(text) or _ASCTIME.fullmatch(text)
    two_digit_year = False
    if match is None:
        match = _RFC850.fullmatch(text)
        two_digit_year = match is not None
    if match is None:
        return None
    month = _MONTHS.get(match["mon"])
    if month is None:
        return None
    year = int(match["year"])
    if two_digit_year:
        # RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is in the past century.
        this_year = time.gmtime().tm_year
        year += (this_year // 100) * 100
        if year > this_year + 50:
            year -= 100
    day, hour, minute, second = (
        int(match["day"]),
        int(match["hour"]),
        int(match["minute"]),
        int(match["second"]),
    )
    # Leap second 60 is tolerated by clamping; out-of-range fields make the date invalid.
    # Year 0000 matches the 4DIGIT grammar but has no calendar date (calendar raises).
    if not (year >= 1 and 1 <= day <= 31 and hour <= 23 and minute <= 59 and second <= 60):
        return None
    if day > calendar.monthrange(year, month)[1]:
        return None
    return calendar.timegm((year, month, day, hour, minute, min(second, 59), 0, 0, 0))
