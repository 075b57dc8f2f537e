import { pino } from 'pino';

/**
 * The logger every long-lived object receives (house rule 9). pino underneath: cheap, structured,
 * with redaction of secret-bearing fields as a second line of defence — secrets are never logged
 * on purpose in the first place.
 */
export type Logger = pino.Logger;

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface LoggerOptions {
  level?: LogLevel;
  /** JSON lines (for log shippers) instead of readable text. */
  json?: boolean;
  /** Where lines go; defaults to stderr so stdout stays free for command output. */
  write?: (line: string) => void;
}

/** Field names whose values never reach a log line. */
export const REDACTED_FIELDS = [
  'apiKey',
  'authToken',
  'token',
  'authorization',
  'headers.authorization',
  'headers.Authorization',
  '*.apiKey',
  '*.authToken',
  '*.token',
  '*.authorization',
];

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

/** One readable line: `12:01:02 INFO [CA12…] message key=value`. */
export function formatReadable(line: string): string {
  const {
    level,
    time,
    msg,
    callSid,
    pid: _pid,
    hostname: _host,
    ...rest
  } = JSON.parse(line) as Record<string, unknown>;
  const clock = new Date(time as number).toISOString().slice(11, 19);
  const who = callSid ? ` [${escapeControl(String(callSid))}]` : '';
  const extras = Object.entries(rest)
    .map(([k, v]) => `${escapeControl(k)}=${typeof v === 'string' ? escapeControl(v) : JSON.stringify(v)}`)
    .join(' ');
  return `${clock} ${LEVEL_NAMES[level as number] ?? level}${who} ${escapeControl(String(msg ?? ''))}${extras ? ` ${extras}` : ''}\n`;
}

/**
 * Control characters in a readable line, escaped: a newline in a peer's value (an event name, a
 * header) would forge a log line of its own, an ANSI sequence would reach the terminal raw.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const json = options.json ?? false;
  return pino(
    {
      level: options.level ?? 'info',
      base: undefined,
      // ISO 8601 in UTC (`2026-11-25T09:00:00.000Z`): unambiguous for log shippers
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_FIELDS, censor: '[redacted]' },
    },
    { write: (line: string) => write(json ? line : formatReadable(line)) },
  );
}

/** A logger that drops everything (tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** Redacts free text (caller speech, tool payloads) unless the operator opted in. */
export function redactText(text: string, include: boolean): string {
  return include ? text : `[${text.length} chars redacted]`;
}
