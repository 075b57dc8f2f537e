import type { RealtimeClientEvent } from 'openai/resources/realtime/realtime';
import type { UnheardItem } from '../../bridge/ports.js';

/**
 * What the model must forget after a barge-in, so its context holds only what the caller heard:
 * an item heard in part is truncated there (the service also drops the unheard transcript); an item
 * with audio the caller never heard (queued behind the playing one, or still arriving) is deleted.
 * A 0 ms truncate would not do: it leaves the whole transcript in context.
 */
export function forgetUnheardEvents(cuts: readonly UnheardItem[]): RealtimeClientEvent[] {
  return cuts.map((cut) =>
    cut.audioEndMs > 0
      ? {
          type: 'conversation.item.truncate',
          item_id: cut.itemId,
          content_index: cut.contentIndex,
          audio_end_ms: cut.audioEndMs,
        }
      : { type: 'conversation.item.delete', item_id: cut.itemId },
  );
}
