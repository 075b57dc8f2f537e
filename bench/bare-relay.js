#!/usr/bin/env node
// The floor of bench/load.js: the least a Twilio ⇄ Realtime relay can do. Parse each message, re-wrap
// it, send it; nothing checked (no signatures, no token, no schema), no marks, no playback tracking,
// no transcripts. It answers the webhook with the same TwiML shape as voice-agent, so the load
// generator drives both the same way. Prints its webhook URL as a JSON line on stderr.
import { createServer } from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';

const realtimeUrl = process.env.OPENAI_REALTIME_URL;
const server = createServer((req, res) => {
  const base = `ws://${req.headers.host}`;
  res.writeHead(200, { 'content-type': 'text/xml' });
  res.end(
    `<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="${base}/voice/media"><Parameter name="token" value="relay"/></Stream></Connect></Response>`,
  );
});
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('connection', (twilio) => {
  let streamSid = '';
  let model;
  twilio.on('message', (data) => {
    const message = JSON.parse(data.toString());
    if (message.event === 'start') {
      streamSid = message.start.streamSid;
      model = new WebSocket(realtimeUrl, { perMessageDeflate: false });
      model.on('open', () =>
        model.send(JSON.stringify({ type: 'session.update', session: { type: 'realtime' } })),
      );
      model.on('message', (raw) => {
        const event = JSON.parse(raw.toString());
        if (event.type === 'session.updated') model.send(JSON.stringify({ type: 'response.create' }));
        else if (event.type === 'response.output_audio.delta')
          twilio.send(JSON.stringify({ event: 'media', streamSid, media: { payload: event.delta } }));
      });
      model.on('error', () => twilio.close());
    } else if (message.event === 'media' && model?.readyState === WebSocket.OPEN) {
      model.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: message.media.payload }));
    } else if (message.event === 'stop') {
      model?.close();
    }
  });
  twilio.on('close', () => model?.close());
});
server.listen(0, '127.0.0.1', () => {
  process.stderr.write(
    `${JSON.stringify({ msg: 'listening', webhookUrl: `http://127.0.0.1:${server.address().port}/voice/incoming` })}\n`,
  );
});
process.on('SIGTERM', () => process.exit(0));
