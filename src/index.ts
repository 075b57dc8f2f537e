/**
 * voice-agent as a library: everything the CLI does, callable from your own Node program. The CLI
 * (`bin/voice-agent.js`) is a thin layer over these: flags and environment in, printing out.
 *
 * @example
 * ```ts
 * import { loadAgent, startServe, createLogger } from 'voice-agent';
 *
 * const { agent } = loadAgent('agents/moving.yaml');
 * const serving = await startServe({
 *   agent,
 *   logger: createLogger({ level: 'info' }),
 *   dataDir: '/var/lib/voice-agent',
 *   port: 8080,
 *   host: '0.0.0.0',
 *   publicUrl: 'https://voice.example.com',
 *   realtimeUrl: 'wss://api.openai.com/v1/realtime',
 *   openaiApiKey: process.env.OPENAI_API_KEY!,
 *   twilioAuthToken: process.env.TWILIO_AUTH_TOKEN!,
 * });
 * console.log(`point your Twilio number at ${serving.webhookUrl}`);
 * process.once('SIGTERM', async () => {
 *   await serving.drain(30_000);
 *   await serving.close();
 * });
 * ```
 */

export type { CallEvent } from './bridge/call-events.js';
export type { CallOutcome } from './bridge/call-outcome.js';
export { environmentWithDotenv, type LoadAgentOptions, type LoadedAgent, loadAgent } from './config/load.js';
export type { AgentConfig } from './config/schema.js';
export { PeerError, UsageError, VoiceAgentError } from './errors.js';
export { type AgentRuntime, type AgentRuntimeOptions, startAgentRuntime } from './host/agent-runtime.js';
export type { ModelNotice } from './host/model-check.js';
export { type ServeOptions, type Serving, startServe } from './host/serve.js';
export { loggedSteps, type StepReporter } from './host/steps.js';
export { startLocalRealtime } from './lab/openai/server.js';
export {
  runSimulation,
  type SimulationOptions,
  type SimulationReport,
  type SimulationResult,
} from './lab/simulate/simulation.js';
export { type SimulationTarget, startSimulationTarget } from './lab/simulate/target.js';
export { TwilioCaller, type TwilioCallerOptions } from './lab/simulate/twilio-caller.js';
export { type RunSuiteOptions, runSuite, type ScenarioResult } from './lab/suites/run-suite.js';
export { createLogger, type Logger } from './observability/logger.js';
export type { CallRecord } from './records/call-record.js';
export { openCallStore, openSharedOrLocalStore } from './records/open.js';
export {
  type CallFilter,
  type CallStore,
  type CallSummary,
  readAudio,
  type StoredAudio,
} from './records/store.js';
export { version } from './version.js';
