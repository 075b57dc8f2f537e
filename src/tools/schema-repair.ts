/**
 * Makes an MCP tool's input schema acceptable as a Realtime function's `parameters`. OpenAI rejects
 * (and one bad tool fails the whole session.update): arrays without `items`, objects without
 * `properties`, a root that is not `type: object`, combinators at the root. `$schema` is dropped.
 */

type Schema = Record<string, unknown>;

export type RepairResult = { ok: true; schema: Schema } | { ok: false; reason: string };

const ROOT_COMBINATORS = ['oneOf', 'anyOf', 'allOf', 'not', 'enum'];
/** Keywords whose value is data, not a schema: copied as they are, never "repaired" (C6). */
const VALUE_KEYWORDS = new Set(['default', 'enum', 'const', 'examples', 'example']);
const MAX_DEPTH = 32;

function repairNode(node: unknown, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new Error(`schema nested deeper than ${MAX_DEPTH} levels`);
  if (Array.isArray(node)) return node.map((n) => repairNode(n, depth + 1));
  if (!node || typeof node !== 'object') return node;
  const out: Schema = {};
  for (const [key, value] of Object.entries(node as Schema)) {
    if (key === '$schema') continue;
    if (VALUE_KEYWORDS.has(key)) {
      out[key] = value;
      continue;
    }
    out[key] =
      key === 'properties' && value && typeof value === 'object'
        ? Object.fromEntries(Object.entries(value as Schema).map(([k, v]) => [k, repairNode(v, depth + 1)]))
        : repairNode(value, depth + 1);
  }
  const types = Array.isArray(out.type) ? out.type : [out.type];
  if (types.includes('array') && out.items === undefined) out.items = {};
  if (types.includes('object') && out.properties === undefined) out.properties = {};
  return out;
}

export function repairToolSchema(input: unknown): RepairResult {
  if (input !== undefined && (!input || typeof input !== 'object' || Array.isArray(input))) {
    return { ok: false, reason: 'input schema is not an object' };
  }
  let schema: Schema;
  try {
    schema = repairNode(input ?? {}, 0) as Schema;
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
  const combinator = ROOT_COMBINATORS.find((k) => k in schema);
  if (combinator) {
    // the model still gets the properties if every branch is an object: merge them, require none
    const branches = (schema[combinator] as Schema[] | undefined) ?? [];
    if (combinator === 'not' || combinator === 'enum' || !branches.every((b) => b?.type === 'object')) {
      return { ok: false, reason: `input schema has "${combinator}" at the top level, which OpenAI rejects` };
    }
    const properties = Object.assign({}, schema.properties, ...branches.map((b) => b.properties ?? {}));
    const { [combinator]: _dropped, ...rest } = schema;
    schema = { ...rest, type: 'object', properties };
  }
  if (schema.type === undefined) schema.type = 'object';
  // a root that may also be null (type: [object, null]) is an object to the model (C6)
  if (Array.isArray(schema.type) && schema.type.includes('object')) schema.type = 'object';
  if (schema.type !== 'object')
    return { ok: false, reason: `input schema root is type "${String(schema.type)}", not "object"` };
  if (schema.properties === undefined) schema.properties = {};
  return { ok: true, schema };
}
