/**
 * Tool names by pattern, as the agent file writes them: an exact name, or `*` / `?` wildcards
 * (`book_*`). Exact names beat patterns; among patterns, the first written wins.
 */
export function matchesToolPattern(name: string, pattern: string): boolean {
  if (!/[*?]/.test(pattern)) return name === pattern;
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return re.test(name);
}

/** The entry for a tool in a map keyed by name or pattern. */
export function byToolPattern<T>(map: Readonly<Record<string, T>>, name: string): T | undefined {
  if (Object.hasOwn(map, name)) return map[name];
  for (const [pattern, value] of Object.entries(map)) if (matchesToolPattern(name, pattern)) return value;
  return undefined;
}
