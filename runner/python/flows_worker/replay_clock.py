"""The clock of a replayed run (a test made from a recorded run: runner/src/testing).

A flow that ``flows test`` replays sees the time of the recorded run: ``time.time()``,
``datetime.datetime.now()``, ``datetime.date.today()`` and their kin start at the job's
``virtual_now`` (the recorded run's start, or the parent's time when it made this child) and move
only when the flow sleeps (``this.sleep``, ``this.sleep_until``), which takes no real time. So a
flow that computes with the current time ends the same way on every replay, and one that waits
a day tests in milliseconds.

The module functions are replaced once per process, the first time a job on a virtual clock
arrives, and stay: each replacement asks the running execution's context for its clock and uses
the real time when it has none. Modules a flow imports read them through the ``time`` and
``datetime`` modules (``from datetime import datetime`` in a flow, loaded after the replacement,
gets the replayed class). ``time.monotonic()`` and ``time.perf_counter()`` stay real: they
measure durations, not dates.
"""

import datetime as _dt
import time as _time

from flow_api import _context

_real_time = _time.time
_real_localtime = _time.localtime
_real_gmtime = _time.gmtime
_real_ctime = _time.ctime
_real_strftime = _time.strftime
_RealDatetime = _dt.datetime
_RealDate = _dt.date
_installed = False


class VirtualClock:
    """One execution's clock: a Unix time that moves only by what the execution sleeps."""

    __slots__ = ("_now",)

    def __init__(self, start):
        self._now = float(start)

    def now(self):
        return self._now

    def advance(self, seconds):
        self._now += max(0.0, float(seconds))


def for_job(job):
    """The clock of ``job``'s execution (installing the replacements), or None off replay."""
    if not job.get("virtual_clock"):
        return None
    start = job.get("virtual_now")
    install()
    return VirtualClock(start if isinstance(start, (int, float)) else _real_time())


def _clock():
    if not _context.attached():
        return None
    return getattr(_context.current_context(), "clock", None)


def now():
    """The running execution's time: its virtual clock's, or the real one."""
    clock = _clock()
    return clock.now() if clock is not None else _real_time()


def _time_ns():
    return int(now() * 1_000_000_000)


def _localtime(secs=None):
    return _real_localtime(now() if secs is None else secs)


def _gmtime(secs=None):
    return _real_gmtime(now() if secs is None else secs)


def _ctime(secs=None):
    return _real_ctime(now() if secs is None else secs)


def _strftime(fmt, t=None):
    return _real_strftime(fmt, _real_localtime(now()) if t is None else t)


class _StandsForReal(type):
    """isinstance/issubclass against a replayed class answer as for the real one."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, cls.__real__)

    def __subclasscheck__(cls, sub):
        return issubclass(sub, cls.__real__)


class _ReplayedDate(_RealDate, metaclass=_StandsForReal):
    __real__ = _RealDate

    @classmethod
    def today(cls):
        return _RealDate.fromtimestamp(now())


class _ReplayedDatetime(_RealDatetime, metaclass=_StandsForReal):
    __real__ = _RealDatetime

    @classmethod
    def now(cls, tz=None):
        return _RealDatetime.fromtimestamp(now(), tz)

    @classmethod
    def today(cls):
        return _RealDatetime.fromtimestamp(now())

    @classmethod
    def utcnow(cls):
        return _RealDatetime.fromtimestamp(now(), _dt.timezone.utc).replace(tzinfo=None)


# Pickled and printed under the real names (pickle finds them again through the module).
for _cls, _name in ((_ReplayedDate, "date"), (_ReplayedDatetime, "datetime")):
    _cls.__name__ = _cls.__qualname__ = _name
    _cls.__module__ = "datetime"


def install():
    """Replace the time functions and classes of this process (once; see the module's doc)."""
    global _installed
    if _installed:
        return
    _installed = True
    _time.time = now
    _time.time_ns = _time_ns
    _time.localtime = _localtime
    _time.gmtime = _gmtime
    _time.ctime = _ctime
    _time.strftime = _strftime
    _dt.date = _ReplayedDate
    _dt.datetime = _ReplayedDatetime
