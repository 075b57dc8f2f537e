/** A caller's number for the log: country code and last two digits (`+1*******67`). */
export function maskNumber(value: unknown): string {
  if (typeof value !== 'string' || !value) return 'unknown';
  if (!/^\+\d{6,15}$/.test(value)) return 'withheld';
  return `${value.slice(0, 2)}${'*'.repeat(value.length - 4)}${value.slice(-2)}`;
}
