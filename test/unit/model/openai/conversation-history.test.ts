import { describe, expect, it } from 'vitest';
import {
  ConversationHistory,
  MAX_REPLAYED_ITEMS,
} from '../../../../src/model/openai/conversation-history.js';

type Item = { type: string; role?: string; content?: { type: string; text: string }[]; call_id?: string };
const items = (h: ConversationHistory) => h.replay().map((e) => (e as { item: Item }).item);

describe('ConversationHistory: the conversation a new Realtime session is given', () => {
  it('replays caller and agent turns as text, and tool calls with their outputs, in order', () => {
    const h = new ConversationHistory();
    h.agentSaid('a1', 'Swift Movers, how can I help?');
    h.callerSaid('A quote for Friday');
    h.toolCall({ callId: 'c1', name: 'get_quote', arguments: '{"day":"friday"}' });
    h.toolOutput('c1', '{"price":240}');
    expect(items(h)).toEqual([
      {
        type: 'message',
        role: 'assistant',
        content: [{ type: 'output_text', text: 'Swift Movers, how can I help?' }],
      },
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'A quote for Friday' }] },
      { type: 'function_call', call_id: 'c1', name: 'get_quote', arguments: '{"day":"friday"}' },
      { type: 'function_call_output', call_id: 'c1', output: '{"price":240}' },
    ]);
  });

  it('an agent turn the caller cut off is replayed as cut off; one they never heard is left out', () => {
    const h = new ConversationHistory();
    h.agentSaid('a1', 'The price is two hundred and forty dollars, and that includes packing.');
    h.forget([{ itemId: 'a1', contentIndex: 0, audioEndMs: 2300 }]);
    h.forget([{ itemId: 'a2', contentIndex: 0, audioEndMs: 0 }]);
    h.agentSaid('a2', 'Never heard.'); // its transcript came after the barge-in
    h.forget([{ itemId: 'a3', contentIndex: 0, audioEndMs: 900 }]);
    h.agentSaid('a3', 'Also cut.');
    expect(items(h).map((i) => i.content![0]!.text)).toEqual([
      'The price is two hundred and forty dollars, and that includes packing. [the caller cut in after about 2 s and did not hear the rest]',
      'Also cut. [the caller cut in after about 1 s and did not hear the rest]',
    ]);
  });

  it('keeps the newest items, never an output whose call was left out', () => {
    const h = new ConversationHistory();
    h.toolCall({ callId: 'old', name: 't', arguments: '{}' });
    for (let i = 0; i < MAX_REPLAYED_ITEMS - 1; i++) h.callerSaid(`turn ${i}`);
    h.toolOutput('old', '{}');
    const replayed = items(h);
    expect(replayed.some((i) => i.call_id === 'old')).toBe(false);
    expect(replayed.at(-1)).toMatchObject({
      role: 'user',
      content: [{ text: `turn ${MAX_REPLAYED_ITEMS - 2}` }],
    });
  });
});
