/**
 * When a schedule fires: every N seconds/minutes/hours, daily at HH:MM, or a cron expression, in
 * an IANA time zone. Calendar arithmetic is croner's (DST as Vixie cron does it: a daily time
 * that falls into the spring-forward gap runs at the end of the gap that day; one that occurs
 * twice in the autumn runs once). Intervals are plain elapsed time, so DST does not touch them.
 */
import { Cron } from 'croner';
import type { IntervalUnit, ScheduleKind } from '@flows/protocol';
import { Invalid } from '../engine/errors';

export interface TimingSpec {
  kind: ScheduleKind;
  interval?: number | null;
  unit?: IntervalUnit | null;
  time?: string | null;
  cron?: string | null;
  timezone?: string | null;
}

export interface Timing {
  timezone: string;
  description: string;
  /** The first fire time strictly after `after` (ms); `anchor` is where intervals count from. */
  next(after: number, anchor: number): number | null;
}

const UNIT_MS: Record<IntervalUnit, number> = { seconds: 1000, minutes: 60_000, hours: 3_600_000 };

export function machineTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

function checkTimeZone(tz: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw new Invalid(`'${tz}' is not an IANA time zone (e.g. Europe/Vienna, UTC)`, 'timezone');
  }
}

function cronTiming(pattern: string, timezone: string, field: string, description: string): Timing {
  let cron: Cron;
  try {
    cron = new Cron(pattern, { timezone, paused: true });
    cron.nextRun(); // some errors only show when a time is computed
  } catch (err) {
    throw new Invalid((err as Error).message.replace(/^Cron\w*:\s*/, ''), field);
  }
  return {
    timezone,
    description,
    next: (after) => cron.nextRun(new Date(after))?.getTime() ?? null,
  };
}

export function compileTiming(spec: TimingSpec): Timing {
  const timezone = spec.timezone || machineTimeZone();
  checkTimeZone(timezone);
  switch (spec.kind) {
    case 'interval': {
      if (spec.interval == null) throw new Invalid('required when kind is interval', 'interval');
      const unit = spec.unit ?? 'minutes';
      const period = spec.interval * UNIT_MS[unit];
      const unitWord = spec.interval === 1 ? unit.slice(0, -1) : unit;
      return {
        timezone,
        description: `every ${spec.interval === 1 ? '' : `${spec.interval} `}${unitWord}`,
        next: (after, anchor) =>
          after < anchor ? anchor + period : anchor + (Math.floor((after - anchor) / period) + 1) * period,
      };
    }
    case 'daily': {
      if (!spec.time) throw new Invalid('required when kind is daily (HH:MM)', 'time');
      const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(spec.time);
      if (!m) throw new Invalid('must be HH:MM, from 00:00 to 23:59', 'time');
      return cronTiming(
        `0 ${Number(m[2])} ${Number(m[1])} * * *`,
        timezone,
        'time',
        `daily at ${spec.time} (${timezone})`,
      );
    }
    case 'cron': {
      const expr = spec.cron?.trim();
      if (!expr) throw new Invalid('required when kind is cron', 'cron');
      return cronTiming(expr, timezone, 'cron', `cron '${expr}' (${timezone})`);
    }
  }
}

/** The next `count` fire times after `from`, as a preview shows them. */
export function upcoming(timing: Timing, from: number, anchor: number, count: number): number[] {
  const times: number[] = [];
  let t = from;
  while (times.length < count) {
    const n = timing.next(t, anchor);
    if (n === null) break;
    times.push(n);
    t = n;
  }
  return times;
}
