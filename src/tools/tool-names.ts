import { createHash } from 'node:crypto';

/**
 * MCP allows tool names OpenAI rejects (dots, 128 characters). The model sees names matching
 * `^[a-zA-Z0-9_-]{1,64}$`: other characters become `_`, a name that clashes (with another server's
 * tool or a built-in) is prefixed with its server name, and one still too long is cut and given a
 * stable hash suffix. The mapping is deterministic, so the same config exposes the same names.
 */
export const MAX_TOOL_NAME_LENGTH = 64;
const HASH_LENGTH = 8;

export interface ToolRef {
  server: string;
  tool: string;
}

function sanitize(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]/g, '_').replace(/^[_-]+|[_-]+$/g, '') || 'tool';
}

function clampLength(name: string, ref: ToolRef): string {
  if (name.length <= MAX_TOOL_NAME_LENGTH) return name;
  const hash = createHash('sha1').update(`${ref.server}\0${ref.tool}`).digest('hex').slice(0, HASH_LENGTH);
  return `${name.slice(0, MAX_TOOL_NAME_LENGTH - HASH_LENGTH - 1)}_${hash}`;
}

/**
 * Exposed name → original tool. `reserved` are names already taken (built-in tools).
 * Tools are processed in the order given (server order from the agent file, then listing order).
 */
export function exposeToolNames(
  refs: readonly ToolRef[],
  reserved: Iterable<string> = [],
): Map<string, ToolRef> {
  const baseCount = new Map<string, number>();
  for (const ref of refs) {
    const base = sanitize(ref.tool);
    baseCount.set(base, (baseCount.get(base) ?? 0) + 1);
  }
  const taken = new Set(reserved);
  const out = new Map<string, ToolRef>();
  for (const ref of refs) {
    const base = sanitize(ref.tool);
    let name = clampLength(base, ref);
    if ((baseCount.get(base) ?? 0) > 1 || taken.has(name))
      name = clampLength(`${sanitize(ref.server)}__${base}`, ref);
    if (taken.has(name))
      name = clampLength(
        `${name}_${createHash('sha1').update(`${ref.server}\0${ref.tool}`).digest('hex').slice(0, HASH_LENGTH)}`,
        ref,
      );
    taken.add(name);
    out.set(name, ref);
  }
  return out;
}
