import type { z } from 'zod';
import { closest } from './did-you-mean.js';

/**
 * Turns zod issues into messages for people: what was expected, what was found, and a
 * "did you mean" where a typo is likely. Paths are kept as zod gives them; the loader locates them.
 */

export interface PathIssue {
  path: PropertyKey[];
  message: string;
  /** For unknown keys the key itself is located, not its parent object. */
  key?: string;
}

type JsonSchema = Record<string, unknown>;

function describeInput(input: unknown): string {
  if (input === undefined) return 'nothing';
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'a mapping';
  const text = JSON.stringify(input);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

const ARTICLE: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
};

/** Per-parse zod error map: our wording for every issue we can phrase better. */
export const errorMap: z.core.$ZodErrorMap = (issue) => {
  const got = `, got ${describeInput(issue.input)}`;
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      return `expected ${ARTICLE[issue.expected] ?? issue.expected}${got}`;
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'string')
        return min <= 1 ? `must not be empty${got}` : `expected at least ${min} characters`;
      if (issue.origin === 'array') return `expected at least ${min} item(s)`;
      if (min === 0 && !issue.inclusive) return `expected a positive number${got}`;
      return `expected a number ${issue.inclusive ? '≥' : '>'} ${min}${got}`;
    }
    case 'too_big':
      if (issue.origin === 'string') return `expected at most ${issue.maximum} characters`;
      return `expected a number ${issue.inclusive ? '≤' : '<'} ${issue.maximum}${got}`;
    case 'invalid_value': {
      const values = issue.values.map((v) => JSON.stringify(v));
      const hint =
        typeof issue.input === 'string'
          ? closest(
              issue.input,
              issue.values.filter((v): v is string => typeof v === 'string'),
            )
          : undefined;
      return `expected ${values.length === 1 ? values[0] : `one of ${values.join(', ')}`}${got}${hint ? ` (did you mean "${hint}"?)` : ''}`;
    }
    case 'invalid_format':
      return issue.message && !issue.message.startsWith('Invalid')
        ? `${issue.message}${got}`
        : `invalid ${issue.format}${got}`;
    default:
      return undefined;
  }
};

/** Keys the schema allows at `path` (across union branches), for "did you mean". */
export function knownKeysAt(schema: JsonSchema, path: PropertyKey[]): Set<string> {
  const keys = new Set<string>();
  const visit = (node: unknown, rest: PropertyKey[]): void => {
    if (!node || typeof node !== 'object') return;
    const n = node as JsonSchema;
    for (const combinator of ['anyOf', 'oneOf', 'allOf'] as const) {
      const branches = n[combinator];
      if (Array.isArray(branches)) for (const b of branches) visit(b, rest);
    }
    if (rest.length === 0) {
      const props = n.properties as JsonSchema | undefined;
      if (props) for (const k of Object.keys(props)) keys.add(k);
      return;
    }
    const [head, ...tail] = rest;
    if (typeof head === 'number') visit(n.items, tail);
    else visit((n.properties as JsonSchema | undefined)?.[String(head)], tail);
  };
  visit(schema, path);
  return keys;
}

/** Flattens zod issues, choosing the closest branch of a failed union. */
export function toPathIssues(issues: readonly z.core.$ZodIssue[], schema: JsonSchema): PathIssue[] {
  const out: PathIssue[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const allowed = knownKeysAt(schema, issue.path);
      for (const key of issue.keys) {
        const hint = closest(key, allowed);
        out.push({
          path: issue.path,
          key,
          message: `unknown key "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}`,
        });
      }
    } else if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const ranked = issue.errors
        .map((branch) => ({
          branch,
          score: branch.length + branch.filter((i) => i.code === 'unrecognized_keys').length,
        }))
        .sort((a, b) => a.score - b.score);
      const [best, second] = ranked;
      if (second && best!.score === second.score && onlyMissing(best!.branch) && onlyMissing(second.branch)) {
        out.push({ path: issue.path, message: describeUnion(schema, issue.path) });
      } else {
        out.push(
          ...toPathIssues(
            best!.branch.map((i) => ({ ...i, path: [...issue.path, ...i.path] })),
            schema,
          ),
        );
      }
    } else {
      const input = (issue as { input?: unknown }).input;
      const message =
        input !== undefined && issue.code !== 'custom' && !issue.message.includes(', got ')
          ? `${issue.message}, got ${describeInput(input)}`
          : issue.message;
      out.push({ path: issue.path, message });
    }
  }
  return out;
}

function onlyMissing(branch: readonly z.core.$ZodIssue[]): boolean {
  return branch.every((i) => i.code === 'invalid_type' && (i as { input?: unknown }).input === undefined);
}

function describeUnion(schema: JsonSchema, path: PropertyKey[]): string {
  let node: unknown = schema;
  for (const seg of path) {
    const n = node as JsonSchema | undefined;
    node = typeof seg === 'number' ? n?.items : (n?.properties as JsonSchema | undefined)?.[String(seg)];
  }
  const branches = ((node as JsonSchema | undefined)?.anyOf ?? (node as JsonSchema | undefined)?.oneOf) as
    | JsonSchema[]
    | undefined;
  if (!branches) return 'does not match any allowed form';
  const forms = branches.map((b) => {
    const required = (b.required as string[] | undefined)?.filter((k) => k !== 'name') ?? [];
    return required.length
      ? required.join(' + ')
      : Object.keys((b.properties as JsonSchema) ?? {}).join(' / ');
  });
  return `expected one of these forms: ${forms.map((f) => `{${f}}`).join(' or ')}`;
}

/** `['mcp_servers', 0, 'timeout_ms']` → `mcp_servers[0].timeout_ms`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, seg) => {
    if (typeof seg === 'number') return `${acc}[${seg}]`;
    return acc ? `${acc}.${String(seg)}` : String(seg);
  }, '');
}
