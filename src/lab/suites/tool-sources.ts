import { isDeepStrictEqual } from 'node:util';
import {
  type ToolDefinition,
  type ToolErrorCode,
  type ToolResult,
  type ToolSource,
  toolError,
  toolOk,
} from '../../bridge/tool-ports.js';
import type { ToolFault } from './suite.js';

/** A tool cassette: the tools offered and every call with its answer, as one run saw them. */
export interface Cassette {
  version: 1;
  tools: ToolDefinition[];
  /** Each answer; `error_code` when the tool failed (what the model heard is `output` either way). */
  calls: { name: string; arguments: Record<string, unknown>; output: string; error_code?: ToolErrorCode }[];
}

/** Passes calls through to the real tools and keeps each answer in a cassette (several runs may share one). */
export class RecordingTools implements ToolSource {
  readonly cassette: Cassette;
  readonly #inner: ToolSource;

  constructor(inner: ToolSource, into: Cassette = { version: 1, tools: [], calls: [] }) {
    this.#inner = inner;
    this.cassette = into;
  }

  definitions(): ToolDefinition[] {
    const tools = this.#inner.definitions();
    for (const tool of tools)
      if (!this.cassette.tools.some((t) => t.name === tool.name)) this.cassette.tools.push(tool);
    return tools;
  }

  has(name: string): boolean {
    return this.#inner.has(name);
  }

  async call(name: string, args: Record<string, unknown>, signal: AbortSignal): Promise<ToolResult> {
    const result = await this.#inner.call(name, args, signal);
    this.cassette.calls.push({
      name,
      arguments: args,
      output: result.output,
      ...(result.ok ? {} : { error_code: result.code }),
    });
    return result;
  }
}

/**
 * Answers tool calls from a cassette, with no server at all: a recorded call with the same name and
 * arguments first, else the next unused answer for that tool; a call the cassette never saw gets an
 * error the model can talk about.
 */
export class ReplayTools implements ToolSource {
  readonly #cassette: Cassette;
  readonly #used = new Set<number>();

  constructor(cassette: Cassette) {
    this.#cassette = cassette;
  }

  definitions(): ToolDefinition[] {
    return this.#cassette.tools;
  }

  has(name: string): boolean {
    return this.#cassette.tools.some((t) => t.name === name);
  }

  async call(name: string, args: Record<string, unknown>): Promise<ToolResult> {
    const calls = this.#cassette.calls;
    let index = calls.findIndex(
      (c, i) => !this.#used.has(i) && c.name === name && isDeepStrictEqual(c.arguments, args),
    );
    if (index < 0) index = calls.findIndex((c, i) => !this.#used.has(i) && c.name === name);
    if (index < 0)
      return toolError(
        'not_recorded',
        `The recorded tool answers have no answer for ${name} with these arguments.`,
      );
    this.#used.add(index);
    const { output, error_code: code } = calls[index]!;
    return code ? { ok: false, code, output } : toolOk(output);
  }
}

/** Injects faults by tool name (an error, a timeout, a canned result, a delay); others pass through. */
export class FaultyTools implements ToolSource {
  readonly #inner: ToolSource;
  readonly #faults: Record<string, ToolFault>;

  constructor(inner: ToolSource, faults: Record<string, ToolFault>) {
    this.#inner = inner;
    this.#faults = faults;
  }

  definitions(): ToolDefinition[] {
    return this.#inner.definitions();
  }

  has(name: string): boolean {
    return this.#inner.has(name);
  }

  async call(name: string, args: Record<string, unknown>, signal: AbortSignal): Promise<ToolResult> {
    const fault = this.#faults[name];
    if (!fault) return this.#inner.call(name, args, signal);
    if (fault.delay_ms) await new Promise((r) => setTimeout(r, fault.delay_ms));
    if (fault.error) return toolError('injected', fault.error);
    // the same words and code a real timeout gives (see McpServerConnection)
    if (fault.timeout) return toolError('timeout', 'The tool did not answer within 10 seconds.');
    if (fault.result !== undefined) return toolOk(JSON.stringify(fault.result));
    return this.#inner.call(name, args, signal);
  }
}
