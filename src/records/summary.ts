import type { CallRecord } from './call-record.js';
import type { CallFilter, CallSummary } from './store.js';

/** A call's line in a list, from its record. */
export function summaryOf(record: CallRecord, hasAudio: boolean): CallSummary {
  return {
    callSid: record.callSid,
    agent: record.agent.name,
    ...(record.from ? { from: record.from } : {}),
    ...(record.to ? { to: record.to } : {}),
    startedAt: record.startedAt,
    durationMs: record.durationMs,
    outcome: record.outcome.kind,
    ...('code' in record.outcome ? { code: record.outcome.code } : {}),
    reason: record.outcome.reason,
    tools: [...new Set(record.toolCalls.map((t) => t.name))],
    ...(record.cost.total === undefined ? {} : { costUsd: record.cost.total }),
    ...(record.latency.p50Ms === undefined ? {} : { latencyP50Ms: record.latency.p50Ms }),
    simulated: record.simulated,
    hasAudio,
  };
}

/**
 * SQL for "listed after the call named by these parameters" in the newest-first order
 * (`started_at DESC, call_sid DESC`): the next page, however many calls share a start time.
 */
export function pageWhere(startedAt: string, callSid: string): string {
  return `(started_at < ${startedAt} OR (started_at = ${startedAt} AND call_sid < ${callSid}))`;
}

/** Whether a summary comes after `after` in the newest-first order (stores without SQL). */
export function isAfter(
  summary: Pick<CallSummary, 'startedAt' | 'callSid'>,
  after: CallFilter['after'],
): boolean {
  if (!after) return true;
  return (
    summary.startedAt < after.startedAt ||
    (summary.startedAt === after.startedAt && summary.callSid < after.callSid)
  );
}
