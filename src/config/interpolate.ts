/**
 * `${VAR}` / `${VAR:-default}` interpolation of one YAML scalar. `$${` writes a literal `${`.
 * Works on values, never on raw file text, so line numbers and YAML syntax stay intact.
 */

const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export interface InterpolationResult {
  value: string;
  /** Variables referenced with no default and not set in the environment. */
  missing: string[];
  /** Whether the value contained at least one reference (so it did not come inline). */
  referenced: boolean;
}

export function interpolate(
  text: string,
  env: Readonly<Record<string, string | undefined>>,
): InterpolationResult {
  const missing: string[] = [];
  let referenced = false;
  const value = text.replace(REFERENCE, (match, name: string | undefined, fallback: string | undefined) => {
    if (match === '$${') return '${';
    referenced = true;
    const set = env[name!];
    if (set !== undefined && set !== '') return set;
    if (fallback !== undefined) return fallback;
    missing.push(name!);
    return '';
  });
  return { value, missing, referenced };
}

/** A scalar that is exactly one reference may become a number or boolean (`timeout_ms: ${T:-5000}`). */
export function isWholeReference(text: string): boolean {
  return /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/.test(text);
}

export function coerceScalar(value: string): string | number | boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  return value;
}
