import type { AgentConfig } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { TwilioClient } from '../telephony/twilio/rest.js';
import type { TunnelProvider } from '../tunnel/index.js';
import type { ModelNotice } from './model-check.js';
import type { StepReporter } from './steps.js';

/** What one `serve` needs: the agent, where it listens, its keys, and what it connects to. */
export interface ServeOptions {
  agent: AgentConfig;
  logger: Logger;
  /** Where call records and recordings are kept (and the SQLite file workers share). */
  dataDir: string;
  port: number;
  host: string;
  /** The https URL Twilio reaches this server at; or open a `tunnel`. */
  publicUrl?: string;
  tunnel?: TunnelProvider;
  realtimeUrl: string;
  openaiApiKey: string;
  twilioAuthToken: string;
  insecureSkipSignature?: boolean;
  /** Turns on the calls page, the calls API and outbound calls (16+ characters). */
  adminToken?: string;
  /** The post-call analysis endpoint (OPENAI_RESPONSES_URL). */
  responsesUrl?: string;
  /** With an account SID, transfers and the drain deadline redirect live calls over REST. */
  twilioRest?: { accountSid: string; apiBaseUrl?: string };
  /** PostgreSQL for records and the call state shared by several servers. */
  databaseUrl?: string;
  /** Processes accepting on one port (node:cluster re-runs the program in each). Default 1. */
  workers?: number;
  /** Serves Prometheus metrics on their own port. */
  metrics?: { port: number; host: string };
  /** Points this Twilio number at the server while it runs, and back when it stops. */
  number?: { e164: string; client: TwilioClient; stateDir: string };
  /** Checks the Realtime endpoint, key and models' shutdown dates first (default true). */
  preflight?: boolean;
  /** The stream tokens' key without a Twilio auth token (VOICE_AGENT_SECRET). */
  secret?: string;
  /** How start-up steps are reported (default: logged). */
  steps?: StepReporter;
}

/** A running `serve`. */
export interface Serving {
  /** `single`, the `primary` of workers, or one `worker`. */
  readonly role: 'single' | 'primary' | 'worker';
  readonly boundAddress: string;
  readonly publicUrl: string;
  readonly webhookUrl: string;
  readonly streamUrl: string;
  readonly workers?: number;
  readonly metricsUrl?: string;
  /** The calls page, when there is an admin token and records. */
  readonly callsUrl?: string;
  /** Models to look at (retiring soon, unknown to OpenAI). */
  readonly modelNotices: readonly ModelNotice[];
  /** Live calls of this process (undefined for a primary: its workers hold the calls). */
  readonly activeCalls: number | undefined;
  /** Resolves with the reason if the tunnel closes (Twilio can no longer reach the server). */
  readonly tunnelClosed: Promise<string>;
  /** Stops taking calls; live calls finish, up to `timeoutMs`, then go to the fallback. */
  drain(timeoutMs: number): Promise<void>;
  /** In a worker: resolves once its primary says drain (or is gone), having drained. */
  followPrimary(drainTimeoutMs: number): Promise<void>;
  /** Puts the number back and closes everything. */
  close(): Promise<void>;
}
