import { describe, expect, it } from 'vitest';
import { repairToolSchema } from '../../../src/tools/schema-repair.js';

describe('repairToolSchema', () => {
  it('drops $schema and fills in what OpenAI requires', () => {
    expect(
      repairToolSchema({
        $schema: 'http://json-schema.org/draft-07/schema#',
        type: 'object',
        properties: {
          tags: { type: 'array' },
          meta: { type: 'object' },
          nested: { type: 'object', properties: { list: { type: ['array', 'null'] } } },
        },
      }),
    ).toEqual({
      ok: true,
      schema: {
        type: 'object',
        properties: {
          tags: { type: 'array', items: {} },
          meta: { type: 'object', properties: {} },
          nested: { type: 'object', properties: { list: { type: ['array', 'null'], items: {} } } },
        },
      },
    });
  });

  it('gives a missing or typeless root type object and properties', () => {
    expect(repairToolSchema(undefined)).toEqual({ ok: true, schema: { type: 'object', properties: {} } });
    expect(repairToolSchema({ properties: { a: { type: 'string' } } })).toEqual({
      ok: true,
      schema: { type: 'object', properties: { a: { type: 'string' } } },
    });
  });

  it('merges object branches of a root combinator, and refuses what cannot be repaired', () => {
    expect(
      repairToolSchema({
        anyOf: [
          { type: 'object', properties: { a: { type: 'string' } } },
          { type: 'object', properties: { b: { type: 'number' } } },
        ],
      }),
    ).toEqual({
      ok: true,
      schema: { type: 'object', properties: { a: { type: 'string' }, b: { type: 'number' } } },
    });
    expect(repairToolSchema({ type: 'string' })).toEqual({
      ok: false,
      reason: 'input schema root is type "string", not "object"',
    });
    expect(repairToolSchema({ oneOf: [{ type: 'string' }, { type: 'number' }] }).ok).toBe(false);
    expect(repairToolSchema([1, 2]).ok).toBe(false);
  });
  it('leaves values alone (default, enum, const, examples are data, not schemas); a nullable object root is an object', () => {
    const result = repairToolSchema({
      type: ['object', 'null'],
      properties: {
        filter: { type: 'object', default: { type: 'array' }, examples: [{ type: 'object' }] },
        kind: { enum: [{ type: 'array' }], const: { type: 'array' } },
      },
    });
    expect(result).toEqual({
      ok: true,
      schema: {
        type: 'object',
        properties: {
          filter: {
            type: 'object',
            properties: {},
            default: { type: 'array' },
            examples: [{ type: 'object' }],
          },
          kind: { enum: [{ type: 'array' }], const: { type: 'array' } },
        },
      },
    });
  });
});
