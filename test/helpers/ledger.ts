import type { CallEvent } from '../../src/bridge/call-events.js';
import type { AgentConfig } from '../../src/config/schema.js';
import { createLogger } from '../../src/observability/logger.js';
import { CallLedger, type RecordMoment } from '../../src/records/call-ledger.js';
import type { CallRecord } from '../../src/records/call-record.js';
import { recordContext } from '../../src/records/call-records.js';

/** A call-event observer that builds each call's record and hands it to these readers (as serve does). */
export function recordReaders(
  agent: AgentConfig,
  ...readers: { onRecord(moment: RecordMoment, record: CallRecord): void }[]
): (callSid: string, event: CallEvent) => void {
  const ledger = new CallLedger({
    context: recordContext(agent, false),
    logger: createLogger({ level: 'error', json: true, write: () => {} }),
  });
  for (const reader of readers) ledger.listen((moment, record) => reader.onRecord(moment, record));
  return (callSid, event) => ledger.onEvent(callSid, event);
}
