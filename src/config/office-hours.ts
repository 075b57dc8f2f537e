/** Opening hours in the agent file: a time zone and hours by day or day range ("mon-fri"). */
export interface OfficeHours {
  timezone: string;
  hours: Record<string, string>;
}

export const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export const DAY_SPEC = /^(mon|tue|wed|thu|fri|sat|sun)(-(mon|tue|wed|thu|fri|sat|sun))?$/;
export const HOURS_SPEC = /^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]|24):[0-5]\d$/;

/** The days a spec covers: `mon`, or a range that may wrap (`fri-mon`). */
function daysOf(spec: string): string[] {
  const [from, to = from] = spec.split('-') as [string, string?];
  const start = DAYS.indexOf(from as (typeof DAYS)[number]);
  const end = DAYS.indexOf(to as (typeof DAYS)[number]);
  const days: string[] = [];
  for (let i = start; ; i = (i + 1) % 7) {
    days.push(DAYS[i]!);
    if (i === end) return days;
  }
}

const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Whether the office is open at `now`, in its own time zone. */
export function isOpen(office: OfficeHours, now: Date = new Date()): boolean {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: office.timezone,
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(now);
  const day = parts
    .find((p) => p.type === 'weekday')!
    .value.slice(0, 3)
    .toLowerCase();
  const at =
    Number(parts.find((p) => p.type === 'hour')!.value) * 60 +
    Number(parts.find((p) => p.type === 'minute')!.value);
  return Object.entries(office.hours).some(([spec, range]) => {
    if (!daysOf(spec).includes(day)) return false;
    const [open, close] = range.split('-') as [string, string];
    return at >= minutes(open) && at < minutes(close);
  });
}

/** A time zone Node knows (IANA name). */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** For the model: when the office is open ("mon-fri 08:00-18:00, sat 09:00-13:00 (America/Chicago)"). */
export function describeHours(office: OfficeHours): string {
  return `${Object.entries(office.hours)
    .map(([spec, range]) => `${spec} ${range}`)
    .join(', ')} (${office.timezone})`;
}
