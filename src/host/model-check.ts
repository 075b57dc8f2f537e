import { describeLifecycle, modelsOf } from '../config/model-lifecycle.js';
import type { AgentConfig } from '../config/schema.js';
import { PeerError } from '../errors.js';
import { checkModelLifecycle } from '../model/openai/model-lifecycle-check.js';
import { checkRealtime } from '../model/openai/preflight.js';
import type { StepReporter } from './steps.js';

/** A model to look at, as the banner, `/readyz` and the metrics show it. */
export interface ModelNotice {
  role: string;
  model: string;
  /** Days to its shutdown; absent for a model the service does not know. */
  daysLeft?: number;
  message: string;
}

/**
 * `serve`'s model-lifecycle guard: asks OpenAI when each model of the agent shuts down. A model past
 * its date stops start-up (every call would fail); one within 90 days, or one the service does not
 * know, is a notice for the banner, `/readyz` and the metrics.
 */
export async function checkModels(o: {
  agent: AgentConfig;
  url: string;
  apiKey: string;
  steps: StepReporter;
}): Promise<ModelNotice[]> {
  const report = await o.steps(
    'checking the models’ shutdown dates',
    () => checkModelLifecycle({ url: o.url, apiKey: o.apiKey, models: modelsOf(o.agent) }),
    (r) =>
      r.findings.length + r.unknown.length === 0
        ? r.unchecked.length
          ? `could not check ${r.unchecked.join(', ')}`
          : 'none is retiring'
        : `${r.findings.length + r.unknown.length} to look at`,
  );
  const gone = report.findings.filter((f) => f.daysLeft <= 0);
  if (gone.length > 0)
    throw new PeerError(
      'openai',
      'model_shut_down',
      `${gone.map(describeLifecycle).join('; ')}: change the agent file`,
    );
  return [
    ...report.findings.map((f) => ({
      role: f.role,
      model: f.model,
      daysLeft: f.daysLeft,
      message: describeLifecycle(f),
    })),
    ...report.unknown.map(({ role, model }) => ({
      role,
      model,
      message: `OpenAI does not know the ${role} model ${model}`,
    })),
  ];
}

/** Carries the primary's notices to its workers (an environment variable holds text). */
export function noticesFromEnv(value: string | undefined): ModelNotice[] {
  if (!value) return [];
  try {
    const parsed = JSON.parse(value) as unknown;
    return Array.isArray(parsed) ? (parsed as ModelNotice[]) : [];
  } catch {
    return [];
  }
}

/**
 * Before serving: the Realtime endpoint and key (GPT-Live has no cheap check that does not open, and
 * bill, a session: its first call shows), then the models' shutdown dates. `preflight: false` skips both.
 */
export async function preflight(
  o: { agent: AgentConfig; realtimeUrl: string; openaiApiKey: string; preflight?: boolean },
  steps: StepReporter,
): Promise<{ realtime: 'ok' | 'skipped'; notices: ModelNotice[] }> {
  if (o.preflight === false) return { realtime: 'skipped', notices: [] };
  let realtime: 'ok' | 'skipped' = 'skipped';
  if (o.agent.engine === 'realtime') {
    await steps(
      'checking the OpenAI Realtime endpoint and key',
      () =>
        checkRealtime({ url: o.realtimeUrl, model: o.agent.model, apiKey: o.openaiApiKey }).catch(
          (error: Error) => {
            throw new PeerError(
              'openai',
              'realtime_preflight_failed',
              `${error.message} (--skip-preflight starts anyway, e.g. where OpenAI is not reachable yet)`,
            );
          },
        ),
      () => `${o.agent.model} accepted`,
    );
    realtime = 'ok';
  }
  const notices = await checkModels({ agent: o.agent, url: o.realtimeUrl, apiKey: o.openaiApiKey, steps });
  return { realtime, notices };
}
