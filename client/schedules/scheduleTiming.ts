/**
 * Timings as people type and read them (no VS Code here, so it is unit-tested in plain Node):
 * "5m", "30 seconds", "2h" for intervals; "09:00" for daily; the schedule's timing in words.
 */
import type { IntervalUnit, ScheduleRecord } from '@flows/protocol';

const UNITS: Record<string, IntervalUnit> = {
  s: 'seconds',
  sec: 'seconds',
  secs: 'seconds',
  second: 'seconds',
  seconds: 'seconds',
  m: 'minutes',
  min: 'minutes',
  mins: 'minutes',
  minute: 'minutes',
  minutes: 'minutes',
  h: 'hours',
  hr: 'hours',
  hrs: 'hours',
  hour: 'hours',
  hours: 'hours',
};

/** "5m" → every 5 minutes; a bare number is minutes. An error text when it cannot be read. */
export function parseInterval(text: string): { interval: number; unit: IntervalUnit } | { error: string } {
  const m = /^\s*(?:every\s+)?(\d+)\s*([a-z]*)\s*$/i.exec(text);
  if (!m) return { error: 'Write a number and a unit, like 30s, 5m or 2h' };
  const interval = Number(m[1]);
  const unit = m[2] ? UNITS[m[2].toLowerCase()] : 'minutes';
  if (!unit) return { error: `"${m[2]}" is not a unit: use s, m or h` };
  if (interval < 1) return { error: 'The interval must be at least 1' };
  return { interval, unit };
}

/** "9:00", "09:00", "9" → "09:00". */
export function parseTimeOfDay(text: string): { time: string } | { error: string } {
  const m = /^\s*(\d{1,2})(?::(\d{2}))?\s*$/.exec(text);
  if (!m || Number(m[1]) > 23 || Number(m[2] ?? 0) > 59)
    return { error: 'Write a time of day as HH:MM, like 09:30' };
  return { time: `${m[1].padStart(2, '0')}:${m[2] ?? '00'}` };
}

/**
 * A single later run: "in 10m" / "in 2h", "14:30" (today, or tomorrow when that has passed), or a
 * local date and time "2026-01-31 09:00". Answers an ISO timestamp.
 */
export function parseLater(text: string, now = new Date()): { at: string } | { error: string } {
  const t = text.trim();
  const rel = /^in\s+(.+)$/i.exec(t);
  if (rel) {
    const r = parseInterval(rel[1]);
    if ('error' in r) return r;
    const ms = r.interval * { seconds: 1000, minutes: 60_000, hours: 3_600_000 }[r.unit];
    return { at: new Date(now.getTime() + ms).toISOString() };
  }
  const tod = parseTimeOfDay(t);
  if (!('error' in tod)) {
    const [h, m] = tod.time.split(':').map(Number);
    const at = new Date(now);
    at.setHours(h, m, 0, 0);
    if (at <= now) at.setDate(at.getDate() + 1);
    return { at: at.toISOString() };
  }
  const dt = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{1,2}):(\d{2})$/.exec(t);
  if (dt) {
    const at = new Date(+dt[1], +dt[2] - 1, +dt[3], +dt[4], +dt[5]);
    if (Number.isNaN(at.getTime())) return { error: 'Not a date' };
    if (at <= now) return { error: 'That time has passed' };
    return { at: at.toISOString() };
  }
  return { error: 'Write "in 10m", a time like 14:30, or a date and time like 2026-01-31 09:00' };
}

/** The timing of a schedule in words: "every 5 minutes", "daily at 09:00 (Europe/Vienna)". */
export function describeTiming(
  s: Pick<ScheduleRecord, 'kind' | 'interval' | 'unit' | 'time' | 'cron' | 'timezone'>,
) {
  switch (s.kind) {
    case 'interval': {
      const unit = s.unit ?? 'minutes';
      return s.interval === 1 ? `every ${unit.slice(0, -1)}` : `every ${s.interval} ${unit}`;
    }
    case 'daily':
      return `daily at ${s.time} (${s.timezone})`;
    case 'cron':
      return `cron ${s.cron} (${s.timezone})`;
  }
}
