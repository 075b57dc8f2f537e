import type { ToolDefinition } from '../bridge/tool-ports.js';
import type { AgentConfig } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';

/** What every model engine is opened with: the agent, where its model is, and the agent's tools. */
export interface EngineOptions {
  agent: AgentConfig;
  /** The model endpoint (`wss://api.openai.com/v1/realtime`, `…/v1/live/sessions`, or a local stand-in). */
  url: string;
  apiKey: string;
  logger: Logger;
  /** The tools offered, read when each session starts or reconnects, so list changes reach it. */
  tools(): readonly ToolDefinition[];
  /** Sessions start only after this resolves (every tool server tried once). */
  toolsReady?: () => Promise<void>;
  /** A running session gets the new list when it changes (a server came back mid-call). */
  onToolsChange?: (listener: () => void) => () => void;
}
