import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CallEvent } from '../bridge/call-events.js';
import type { CallAudioTap, ModelEngine } from '../bridge/ports.js';
import type { CallTools } from '../bridge/tool-ports.js';

export type { CallTools } from '../bridge/tool-ports.js';

import type { AgentConfig } from '../config/schema.js';
import { SqliteSql } from '../db/sqlite.js';
import { errorMessage } from '../errors.js';
import { liveEngine } from '../model/live/engine.js';
import { openAiEngine } from '../model/openai/engine.js';
import type { Logger } from '../observability/logger.js';
import type { CallStore } from '../records/store.js';
import { TwilioMediaServer } from '../telephony/twilio/media-server.js';
import type { VoicemailReport } from '../telephony/twilio/webhooks.js';
import { CallDesk } from './call-desk.js';
import { CallRegistry } from './call-registry.js';
import { instanceId, SharedCalls } from './calls/shared-calls.js';
import { streamTokenKey } from './calls/stream-token.js';
import { createApp, type Readiness } from './http/app.js';
import type { OutboundEndpointOptions } from './http/outbound-endpoint.js';
import { normalizePublicUrl, ROUTES, streamUrl } from './http/routes.js';

export { DEFAULT_ACTION_GRACE_MS } from './call-desk.js';

export interface VoiceServerOptions {
  agent: AgentConfig;
  host: string;
  port: number;
  /** Public base URL Twilio uses; default `http://<host>:<port>` (local use only). */
  publicUrl?: string;
  /** The model endpoint of the agent's engine (Realtime, or GPT-Live with `engine: live`). */
  realtimeUrl: string;
  openaiApiKey: string;
  /** The model side of calls; default: OpenAI Realtime at `realtimeUrl`. */
  engine?: ModelEngine;
  twilioAuthToken: string;
  insecureSkipSignature?: boolean;
  logger: Logger;
  tools?: CallTools;
  prewarmTimeoutMs?: number;
  /** A recorder for a call's audio, if it is to be recorded. */
  audioTap?: (callSid: string, leg: number) => CallAudioTap | undefined;
  /** A voicemail left after an unanswered transfer (the call's stream has ended by then). */
  onVoicemail?: (callSid: string, voicemail: VoicemailReport) => void;
  /** Every call's ordered event stream (a listener that throws is logged, the call goes on). */
  onCallEvent?: (callSid: string, event: CallEvent) => void;
  /** POST /calls/outbound behind the admin token (see outbound-endpoint.ts). */
  outbound?: Omit<OutboundEndpointOptions, 'logger'>;
  /** Serves the calls page from this store, behind this admin token (see calls-page.ts). */
  callsPage?: { store: CallStore; adminToken: string };
  /** For /readyz: the model endpoint's start-up check and MCP servers that are down. */
  readiness?: () => Readiness;
  /** With REST credentials: sends a live call to the fallback TwiML at once (drain deadline). */
  redirectToFallback?: (callSid: string) => Promise<void>;
  /** After the drain deadline, how long to wait for Twilio to ask the action URL what next. */
  actionGraceMs?: number;
  /** Realtime socket ping interval (default 5 s); one unanswered ping ends the session. */
  realtimeHeartbeatMs?: number;
  /** Session age after which it is rolled over at a quiet moment, when the service announces no `expires_at` (55 min). */
  realtimeRolloverMs?: number;
  /** How long before the service's `expires_at` a session is rolled over (5 min; tests change it). */
  realtimeRolloverLeadMs?: number;
  /** Media socket deadlines (defaults: 10 s for `start`, a ping every 10 s). */
  mediaTimeouts?: { startMs?: number; pingIntervalMs?: number };
  /**
   * The live-call state shared with the other processes of a deployment (SQLite for workers,
   * PostgreSQL for servers); default: this process alone, in memory. The caller closes it.
   */
  sharedCalls?: SharedCalls;
  /** The stream tokens' HMAC key; default: derived from the Twilio auth token (see stream-token.ts). */
  streamTokenKey?: Buffer;
}

/** A listening voice server (see {@link startVoiceServer}). */
export interface VoiceServer {
  /** A URL this machine reaches the server at, e.g. `http://127.0.0.1:8080`. */
  readonly localUrl: string;
  /** The address really bound, for people: `0.0.0.0:8080 (all interfaces)` or `127.0.0.1:8080`. */
  readonly boundAddress: string;
  readonly publicUrl: string;
  readonly webhookUrl: string;
  readonly streamUrl: string;
  readonly activeCalls: number;
  /** The live-call state this server shares (with itself only, unless one was given). */
  readonly sharedCalls: SharedCalls;
  /**
   * Ends a live call, whichever process holds it: `here`, `sent` to the process that holds it, or
   * `not_live`.
   */
  hangUp(callSid: string, reason: string): Promise<'here' | 'sent' | 'not_live'>;
  /** Changes the public URL (a tunnel opened after listen); TwiML and signatures follow it. */
  setPublicUrl(url: string): void;
  /**
   * Stop taking calls (the webhook answers the fallback) and wait for active calls, up to
   * `timeoutMs`. Calls still up then are sent to the fallback — over REST when possible, else by
   * ending their streams so Twilio asks the action URL — and the server waits (bounded) until Twilio
   * has asked, so no caller is cut to Twilio's "application error".
   */
  drain(timeoutMs: number): Promise<void>;
  /** Ends every call and closes every socket. Idempotent. */
  close(): Promise<void>;
}

/** How long close() waits for sockets before destroying them. */
const CLOSE_TIMEOUT_MS = 5_000;

/**
 * Starts the voice server: the model engine, this process's {@link CallDesk}, the HTTP app (webhooks,
 * health, the calls page…) and the Twilio media endpoint, listening on one port.
 */
export async function startVoiceServer(options: VoiceServerOptions): Promise<VoiceServer> {
  const shared = options.sharedCalls ?? (await SharedCalls.open(new SqliteSql(':memory:'), instanceId()));
  const server = new ListeningVoiceServer(options, shared, options.sharedCalls === undefined);
  await server.listen();
  return server;
}

/** Listens, routes requests and upgrades, and closes; the calls themselves are the desk's. */
class ListeningVoiceServer implements VoiceServer {
  readonly sharedCalls: SharedCalls;
  readonly #o: VoiceServerOptions;
  readonly #ownShared: boolean;
  readonly #registry: CallRegistry;
  readonly #desk: CallDesk;
  readonly #media: TwilioMediaServer;
  readonly #http: Server;
  #publicUrl: string;
  #localUrl = '';
  #boundAddress = '';
  #closing: Promise<void> | undefined;

  constructor(options: VoiceServerOptions, shared: SharedCalls, ownShared: boolean) {
    this.#o = options;
    this.sharedCalls = shared;
    this.#ownShared = ownShared;
    this.#publicUrl = options.publicUrl ? normalizePublicUrl(options.publicUrl) : '';
    const { agent, logger } = options;
    this.#registry = new CallRegistry({
      shared,
      agent: agent.name,
      tokenKey: options.streamTokenKey ?? streamTokenKey({ twilioAuthToken: options.twilioAuthToken }),
      maxConcurrent: agent.call.max_concurrent,
      prewarmTimeoutMs: options.prewarmTimeoutMs,
    });
    this.#desk = new CallDesk({
      agent,
      logger,
      engine: options.engine ?? engineFor(options),
      registry: this.#registry,
      ...(options.tools ? { tools: options.tools } : {}),
      ...(options.audioTap ? { audioTap: options.audioTap } : {}),
      ...(options.onCallEvent ? { onCallEvent: options.onCallEvent } : {}),
      ...(options.onVoicemail ? { onVoicemail: options.onVoicemail } : {}),
      ...(options.redirectToFallback ? { redirectToFallback: options.redirectToFallback } : {}),
      ...(options.actionGraceMs === undefined ? {} : { actionGraceMs: options.actionGraceMs }),
    });
    this.#media = new TwilioMediaServer({
      logger,
      twilioAuthToken: options.twilioAuthToken,
      insecureSkipSignature: options.insecureSkipSignature ?? false,
      publicUrl: () => this.#publicUrl,
      onStart: (start) => this.#desk.start(start),
      startTimeoutMs: options.mediaTimeouts?.startMs,
      pingIntervalMs: options.mediaTimeouts?.pingIntervalMs,
    });
    this.#http = createServer(this.#app());
    this.#http.on('upgrade', (req, socket, head) => this.#media.handleUpgrade(req, socket, head));
    this.#http.on('clientError', (_err, socket) => socket.destroy());
  }

  get localUrl(): string {
    return this.#localUrl;
  }
  get boundAddress(): string {
    return this.#boundAddress;
  }
  get publicUrl(): string {
    return this.#publicUrl;
  }
  get webhookUrl(): string {
    return this.#publicUrl + ROUTES.incoming;
  }
  get streamUrl(): string {
    return streamUrl(this.#publicUrl);
  }
  get activeCalls(): number {
    return this.#desk.active;
  }

  async listen(): Promise<void> {
    const { port, host } = this.#o;
    await new Promise<void>((resolve, reject) => {
      this.#http.once('error', reject);
      this.#http.listen(port, host, () => {
        this.#http.off('error', reject);
        resolve();
      });
    });
    const address = this.#http.address() as AddressInfo;
    const localHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const everywhere = localHost === '0.0.0.0' || localHost === '[::]';
    this.#localUrl = `http://${everywhere ? '127.0.0.1' : localHost}:${address.port}`;
    this.#boundAddress = `${localHost}:${address.port}${everywhere ? ' (all interfaces)' : ''}`;
    if (!this.#publicUrl) this.#publicUrl = this.#localUrl;
    this.#followSharedCalls();
  }

  hangUp(callSid: string, reason: string): Promise<'here' | 'sent' | 'not_live'> {
    return this.#desk.hangUp(callSid, reason);
  }

  setPublicUrl(url: string): void {
    this.#publicUrl = normalizePublicUrl(url);
  }

  drain(timeoutMs: number): Promise<void> {
    return this.#desk.drain(timeoutMs);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#desk.endAll('server shutting down');
      this.#registry.close();
      this.#media.close();
      await this.sharedCalls.stop();
      if (this.#ownShared) await this.sharedCalls.close();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.#http.closeAllConnections();
          resolve();
        }, CLOSE_TIMEOUT_MS);
        timer.unref();
        this.#http.close(() => {
          clearTimeout(timer);
          resolve();
        });
        this.#http.closeIdleConnections();
      });
    })();
    return this.#closing;
  }

  /** The HTTP routes: webhooks (answered by the desk), health, and the admin token's pages. */
  #app() {
    const { agent, logger, outbound, callsPage } = this.#o;
    return createApp({
      calls: this.#desk,
      logger,
      fallback: agent.call.fallback,
      afterUnansweredTransfer: agent.tools.transfer_call?.on_no_answer ?? 'message',
      twilioAuthToken: this.#o.twilioAuthToken,
      insecureSkipSignature: this.#o.insecureSkipSignature ?? false,
      publicUrl: () => this.#publicUrl,
      activeCalls: () => this.#desk.active,
      ...(outbound
        ? {
            outbound: { ...outbound, logger },
            control: {
              adminToken: outbound.adminToken,
              live: () => this.sharedCalls.live(agent.name),
              hangUp: (callSid: string, reason: string) => this.hangUp(callSid, reason),
              logger,
            },
          }
        : {}),
      readiness: this.#o.readiness,
      ...(callsPage
        ? { callsPage: { ...callsPage, secureCookies: () => this.#publicUrl.startsWith('https:'), logger } }
        : {}),
    });
  }

  /** Commands from other processes reach the desk; the heartbeat reconciles the calls held here. */
  #followSharedCalls(): void {
    const { logger } = this.#o;
    this.sharedCalls.start(
      (command) => this.#desk.onCommand(command),
      (error) =>
        logger.error(
          { reason: errorMessage(error) },
          'the shared call state is unreachable; /readyz says not ready; retrying',
        ),
      () => logger.info('the shared call state answers again'),
      () => this.#desk.heldCallSids(),
    );
  }
}

/** The model side of calls: OpenAI Realtime, or GPT-Live with `engine: live`. */
function engineFor(options: VoiceServerOptions): ModelEngine {
  const { agent, logger, tools } = options;
  const toolList = {
    tools: () => tools?.definitions() ?? [],
    ...(tools?.ready ? { toolsReady: () => tools.ready!() } : {}),
    ...(tools?.onChange ? { onToolsChange: (l: () => void) => tools.onChange!(l) } : {}),
  };
  const endpoint = { agent, url: options.realtimeUrl, apiKey: options.openaiApiKey, logger, ...toolList };
  return agent.engine === 'live'
    ? liveEngine(endpoint)
    : openAiEngine({
        ...endpoint,
        heartbeatMs: options.realtimeHeartbeatMs,
        rolloverAfterMs: options.realtimeRolloverMs,
        rolloverLeadMs: options.realtimeRolloverLeadMs,
      });
}
