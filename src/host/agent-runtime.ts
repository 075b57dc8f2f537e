import type { CallEvent } from '../bridge/call-events.js';
import type { ToolSource } from '../bridge/tool-ports.js';
import type { AgentConfig } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { CallLedger } from '../records/call-ledger.js';
import type { CallRecord } from '../records/call-record.js';
import { type CallRecords, recordContext } from '../records/call-records.js';
import { analyzeCall, responsesUrlBeside } from '../records/post-call.js';
import type { CallWebhooks } from '../records/webhooks.js';
import { createTwilioClient, redirectToDial, redirectToTwiml } from '../telephony/twilio/rest.js';
import { fallbackTwiml } from '../telephony/twilio/twiml.js';
import { transferTwiml } from '../telephony/twilio/webhooks.js';
import { AgentTools } from '../tools/agent-tools.js';
import { BUILTIN_TOOL_NAMES } from '../tools/builtin-tools.js';
import { McpPool } from '../tools/mcp/pool.js';
import type { Readiness } from './http/app.js';
import type { CallMetrics } from './metrics.js';
import { placeOutboundCall } from './outbound.js';
import { OutboundGuard } from './outbound-guard.js';
import { startVoiceServer, type VoiceServer, type VoiceServerOptions } from './voice-server.js';

/**
 * An agent ready to take calls: the voice server (its port open first), its tools, and its MCP
 * servers connecting in the background — each attempt bounded by `connect_timeout_ms`, a server
 * that is down retried with backoff — so a slow or hanging tool server never delays the webhook.
 * Shared by `serve` and `simulate`.
 */
export type AgentRuntimeOptions = Omit<VoiceServerOptions, 'tools' | 'readiness' | 'redirectToFallback'> & {
  /** With an account SID, transfers and the drain deadline redirect the live call over REST. */
  twilioRest?: { accountSid: string; apiBaseUrl?: string };
  /** The model endpoint's start-up check, for /readyz (`skipped` when none was made). */
  realtimeCheck?: () => Pick<Readiness, 'realtime' | 'realtimeError' | 'modelWarnings'>;
  /** Records every call (history, recording, latency, cost); closed with the runtime. */
  records?: CallRecords;
  /** Counts every call for Prometheus. */
  metrics?: CallMetrics;
  /** Sends call summaries and messages to the agent's webhooks; closed (drained) with the runtime. */
  webhooks?: CallWebhooks;
  /** VOICE_AGENT_ADMIN_TOKEN: with records, serves the calls page behind it. */
  adminToken?: string;
  /**
   * Simulations: where tools come from instead of the MCP pool itself — a wrapper of it (a cassette
   * recorder, fault injection), or, with `startMcpServers: false`, a replayed cassette.
   */
  toolSource?: (pool: McpPool) => ToolSource;
  /** false: the agent's MCP servers are not started (tools come from `toolSource`). */
  startMcpServers?: boolean;
  /** Records and webhooks say the calls were simulated. */
  simulated?: boolean;
  /**
   * The Responses endpoint of the post-call analysis (env OPENAI_RESPONSES_URL); default: the agent
   * file's `post_call.url`, else the one beside `realtimeUrl`.
   */
  responsesUrl?: string;
};

export interface AgentRuntime {
  server: VoiceServer;
  pool: McpPool;
  /** Resolves once every MCP server has connected or failed once (bounded by its connect timeout). */
  toolsSettled: Promise<void>;
  /** Tools offered to a call starting now (built-ins and MCP). */
  toolCount(): number;
  /** Resolves once the records of the calls that ended are final (post-call analyses done). */
  recordsSettled(): Promise<void>;
  close(): Promise<void>;
}

export async function startAgentRuntime(options: AgentRuntimeOptions): Promise<AgentRuntime> {
  const {
    agent,
    logger,
    twilioRest,
    realtimeCheck,
    records,
    metrics,
    adminToken,
    webhooks,
    toolSource,
    startMcpServers = true,
    simulated: _simulated,
    responsesUrl: _responsesUrl,
    ...serverOptions
  } = options;
  // credentials are checked before anything is started, so a typo leaves nothing running
  const rest = twilioRest
    ? createTwilioClient({ ...twilioRest, authToken: options.twilioAuthToken })
    : undefined;
  const pool = new McpPool(startMcpServers ? agent.mcp_servers : [], logger, BUILTIN_TOOL_NAMES);
  let server: VoiceServer | undefined;
  /** Where Twilio reaches this server (known once it listens; a tunnel may change it later). */
  const publicUrl = () => server?.publicUrl ?? '';
  const source = toolSource ? toolSource(pool) : pool;
  const tools = new AgentTools(
    agent,
    source,
    rest
      ? (callSid, transfer) => redirectToDial(rest, callSid, transferTwiml(transfer, publicUrl()))
      : undefined,
  );
  const ledger = wireRecords(options, pool);
  try {
    server = await startVoiceServer({
      ...serverOptions,
      agent,
      logger,
      tools,
      ...(records ? { audioTap: (callSid: string, leg: number) => records.audioTap(callSid, leg) } : {}),
      ...(ledger ? { onVoicemail: (callSid, voicemail) => ledger.voicemail(callSid, voicemail) } : {}),
      ...(records && adminToken ? { callsPage: { store: records.store, adminToken } } : {}),
      ...(adminToken ? { outbound: outboundOf(options, rest, publicUrl) } : {}),
      onCallEvent: fanOut(
        [
          ledger && ((callSid: string, event: CallEvent) => ledger.onEvent(callSid, event)),
          metrics && ((callSid: string, event: CallEvent) => metrics.onEvent(callSid, event)),
          serverOptions.onCallEvent,
        ],
        logger,
      ),
      readiness: () => readinessOf(pool, realtimeCheck, serverOptions.sharedCalls),
      redirectToFallback: rest
        ? (callSid) => redirectToTwiml(rest, callSid, fallbackTwiml(agent.call.fallback))
        : undefined,
    });
  } catch (error) {
    await pool.close();
    await records?.close();
    throw error;
  }
  records?.startPruning();
  const toolsSettled = pool.start().then(() => reportToolServers(pool, logger));
  const started = server;
  return {
    server: started,
    pool,
    toolsSettled,
    toolCount: () => tools.definitions().length,
    recordsSettled: async () => {
      await ledger?.settled();
    },
    async close() {
      await started.close();
      // post-call analyses under way finish (each bounded by its timeout) before records close
      await ledger?.settled();
      ledger?.close();
      // deliveries under way get a moment to finish (tool hooks need the MCP servers still up); a
      // hook that keeps failing does not hold the exit
      if (webhooks)
        await Promise.race([webhooks.settled(), new Promise((r) => setTimeout(r, 3_000).unref())]);
      await pool.close();
      await records?.close();
    },
  };
}

/**
 * The call ledger (one record per call, with its post-call analysis) feeding the records and the
 * webhooks; undefined when neither is kept.
 */
function wireRecords(options: AgentRuntimeOptions, pool: McpPool): CallLedger | undefined {
  const { agent, logger, records, webhooks, simulated = false, startMcpServers = true } = options;
  if (!records && !webhooks) return undefined;
  const ledger = callLedger(
    agent,
    logger,
    simulated,
    {
      url: options.responsesUrl ?? agent.post_call?.url ?? responsesUrlBeside(options.realtimeUrl),
      apiKey: options.openaiApiKey,
    },
    // with call state shared between processes, a call's earlier leg may be another's
    records && options.sharedCalls ? (callSid) => records.store.get(callSid) : undefined,
  );
  if (records) ledger.listen((moment, record) => records.onRecord(moment, record));
  if (webhooks) {
    // straight to the agent's MCP servers: a simulation's cassette or injected faults are for the
    // model's tool calls, not for deliveries (and with no servers started there is nothing to call)
    if (startMcpServers) webhooks.useTools((name, args, signal) => pool.call(name, args, signal));
    ledger.listen((moment, record) => webhooks.onRecord(moment, record));
  }
  return ledger;
}

/** `POST /calls/outbound` behind the admin token: places calls over REST, within the agent's outbound guard. */
function outboundOf(
  options: AgentRuntimeOptions,
  rest: ReturnType<typeof createTwilioClient> | undefined,
  publicUrl: () => string,
): NonNullable<VoiceServerOptions['outbound']> {
  const { agent, metrics } = options;
  const guard = new OutboundGuard(agent);
  return {
    adminToken: options.adminToken!,
    ...(metrics ? { onRefused: (reason: string) => metrics.outboundRefused(reason) } : {}),
    place: rest
      ? (request) => placeOutboundCall({ client: rest, agent, publicUrl: publicUrl(), request, guard })
      : undefined,
  };
}

/** One listener for every call event: each observer on its own, so one that throws costs the others nothing. */
function fanOut(
  observers: (((callSid: string, event: CallEvent) => void) | undefined | false)[],
  logger: Logger,
): (callSid: string, event: CallEvent) => void {
  const each = observers.filter((o) => typeof o === 'function');
  return (callSid, event) => {
    for (const observe of each) {
      try {
        observe(callSid, event);
      } catch (error) {
        logger.child({ callSid }).error({ reason: errorMessage(error) }, 'a call observer failed');
      }
    }
  };
}

/** What /readyz says beyond draining: the model check, tool servers still starting or down, the database. */
function readinessOf(
  pool: McpPool,
  realtimeCheck: AgentRuntimeOptions['realtimeCheck'],
  sharedCalls: AgentRuntimeOptions['sharedCalls'],
): Readiness {
  return {
    ...(realtimeCheck?.() ?? { realtime: 'skipped' }),
    starting: !pool.settled,
    ...(sharedCalls?.problem ? { databaseError: sharedCalls.problem } : {}),
    mcpDown: pool
      .status()
      .filter((s) => s.state !== 'ready')
      .map((s) => ({ name: s.name, state: s.state, ...(s.error ? { error: s.error } : {}) })),
  };
}

/** Once every tool server was tried: each one's state, in the log. */
function reportToolServers(pool: McpPool, logger: Logger): void {
  for (const status of pool.status()) {
    if (status.state === 'ready')
      logger.info({ tools: status.tools.length }, `MCP server ${status.name} ready`);
    else
      logger.warn(
        `MCP server ${status.name} is unreachable (${status.error ?? 'unknown error'}); serving without its tools and retrying`,
      );
  }
}

/** The one record of each call, with the post-call analysis when the agent file asks for one. */
function callLedger(
  agent: AgentConfig,
  logger: Logger,
  simulated: boolean,
  responses: { url: string; apiKey: string },
  stored: ((callSid: string) => Promise<CallRecord | undefined>) | undefined,
): CallLedger {
  const config = agent.post_call;
  return new CallLedger({
    context: recordContext(agent, simulated),
    logger,
    ...(stored ? { stored } : {}),
    ...(config ? { analyze: (record: CallRecord) => analyzeCall(record, { config, ...responses }) } : {}),
  });
}
