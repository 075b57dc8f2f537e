import { createTwilioClient, redirectToDial } from '../telephony/twilio/rest.js';
import { AgentTools } from '../tools/agent-tools.js';
import { BUILTIN_TOOL_NAMES } from '../tools/builtin-tools.js';
import { McpPool } from '../tools/mcp/pool.js';
import { ROUTES } from './routes.js';
import { startVoiceServer, type VoiceServer, type VoiceServerOptions } from './voice-server.js';

/**
 * An agent ready to take calls: its MCP servers connected (a server that is down is retried in the
 * background), its tools, and the voice server. Shared by `serve` and `simulate`.
 */
export type AgentRuntimeOptions = Omit<VoiceServerOptions, 'tools'> & {
  /** With an account SID, transfers redirect the live call over REST. */
  twilioRest?: { accountSid: string; apiBaseUrl?: string };
};

export interface AgentRuntime {
  server: VoiceServer;
  pool: McpPool;
  close(): Promise<void>;
}

export async function startAgentRuntime(options: AgentRuntimeOptions): Promise<AgentRuntime> {
  const { agent, logger } = options;
  const pool = new McpPool(agent.mcp_servers, logger, BUILTIN_TOOL_NAMES);
  await pool.start();
  for (const status of pool.status()) {
    if (status.state === 'ready')
      logger.info({ tools: status.tools.length }, `MCP server ${status.name} ready`);
    else {
      logger.warn(
        `MCP server ${status.name} is unreachable (${status.error ?? 'unknown error'}); serving without its tools and retrying`,
      );
    }
  }
  let server: VoiceServer | undefined;
  const rest = options.twilioRest
    ? createTwilioClient({ ...options.twilioRest, authToken: options.twilioAuthToken })
    : undefined;
  const tools = new AgentTools(
    agent,
    pool,
    rest
      ? (callSid, to) => redirectToDial(rest, callSid, to, server!.publicUrl + ROUTES.dialEnded)
      : undefined,
  );
  try {
    const { twilioRest: _rest, ...serverOptions } = options;
    server = await startVoiceServer({ ...serverOptions, tools });
  } catch (error) {
    await pool.close();
    throw error;
  }
  const started = server;
  return {
    server: started,
    pool,
    async close() {
      await started.close();
      await pool.close();
    },
  };
}
