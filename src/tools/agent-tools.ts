import type { AgentConfig } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import { redactText } from '../observability/logger.js';
import { builtinDefinitions, type RestTransfer, runBuiltin } from './builtin-tools.js';
import { toolFailure } from './tool-result.js';
import type { CallControl, ToolDefinition, ToolExecutor, ToolSource } from './types.js';

/**
 * The tools of one agent: built-ins (end_call, transfer_call) and the MCP pool's tools (or another
 * {@link ToolSource}). Each call
 * gets an executor bound to it; every run is logged with its duration, payloads redacted unless the
 * agent sets `logging.tool_payloads`.
 */
export class AgentTools {
  readonly #agent: AgentConfig;
  readonly #pool: ToolSource | undefined;
  readonly #restTransfer: RestTransfer | undefined;

  constructor(agent: AgentConfig, pool: ToolSource | undefined, restTransfer?: RestTransfer) {
    this.#agent = agent;
    this.#pool = pool;
    this.#restTransfer = restTransfer;
  }

  definitions(): ToolDefinition[] {
    return [...builtinDefinitions(this.#agent), ...(this.#pool?.definitions() ?? [])];
  }

  forCall(control: CallControl, logger: Logger): ToolExecutor {
    const showPayloads = this.#agent.logging.tool_payloads;
    return {
      execute: async (call, signal) => {
        const started = performance.now();
        let output: string;
        let args: Record<string, unknown> = {};
        try {
          const parsed: unknown = call.arguments ? JSON.parse(call.arguments) : {};
          if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
            throw new Error('not an object');
          args = parsed as Record<string, unknown>;
          output =
            runBuiltin(call.name, args, this.#agent, control, this.#restTransfer) ??
            (this.#pool?.has(call.name)
              ? await this.#pool.call(call.name, args, signal)
              : toolFailure(`There is no tool named "${call.name}".`));
        } catch {
          output = toolFailure(
            'The tool arguments were not a valid JSON object; call the tool again with valid arguments.',
          );
        }
        const failed = output.startsWith('{"error"');
        logger[failed ? 'warn' : 'info'](
          {
            tool: call.name,
            callId: call.callId,
            ms: Math.round(performance.now() - started),
            arguments: redactText(call.arguments, showPayloads),
            result: redactText(output, showPayloads),
          },
          failed ? 'tool call failed' : 'tool call',
        );
        return output;
      },
    };
  }
}
