import { type LifecycleFinding, lifecycleOf, type ModelRole } from '../../config/model-lifecycle.js';
import { apiUrlBeside } from '../../config/model-url.js';

export const MODEL_LOOKUP_TIMEOUT_MS = 5_000;

export interface LifecycleReport {
  /** Models that shut down within 90 days, or have. */
  findings: LifecycleFinding[];
  /** Models the service says it does not know (404): every call using one would fail. */
  unknown: { role: ModelRole; model: string }[];
  /** Look-ups that failed (network, 5xx): nothing is concluded about those models. */
  unchecked: string[];
}

/**
 * The model-lifecycle guard of `serve`: asks the service (`GET /v1/models/{id}`) for each model the
 * agent uses and judges its `shutdown_date`. The service is the judge of the date; our calendar only
 * names the replacement. Costs nothing: model look-ups are not billed.
 */
export async function checkModelLifecycle(options: {
  /** The agent's Realtime or Live endpoint: the models API is beside it. */
  url: string;
  apiKey: string;
  models: readonly { role: ModelRole; model: string }[];
  now?: Date;
  timeoutMs?: number;
}): Promise<LifecycleReport> {
  const base = apiUrlBeside(options.url, 'models');
  const report: LifecycleReport = { findings: [], unknown: [], unchecked: [] };
  const seen = new Map<string, Promise<{ status: number; shutdown?: string | null }>>();
  const lookUp = (model: string) =>
    fetch(`${base}/${encodeURIComponent(model)}`, {
      headers: { Authorization: `Bearer ${options.apiKey}` },
      redirect: 'error',
      signal: AbortSignal.timeout(options.timeoutMs ?? MODEL_LOOKUP_TIMEOUT_MS),
    })
      .then(async (res) => {
        const body = (await res.json().catch(() => ({}))) as { shutdown_date?: unknown };
        const date = body.shutdown_date;
        return { status: res.status, shutdown: typeof date === 'string' ? date : null };
      })
      .catch(() => ({ status: 0 }));
  await Promise.all(
    options.models.map(async ({ role, model }) => {
      if (!seen.has(model)) seen.set(model, lookUp(model));
      const answer = await seen.get(model)!;
      if (answer.status === 404) report.unknown.push({ role, model });
      else if (answer.status !== 200) report.unchecked.push(model);
      else {
        const finding = lifecycleOf(role, model, options.now ?? new Date(), answer.shutdown);
        if (finding) report.findings.push(finding);
      }
    }),
  );
  return report;
}
