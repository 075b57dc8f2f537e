// Preload for third-party servers that listen on all interfaces: force 127.0.0.1, and report the
// real port on stderr ("LOOPBACK_PORT=<n>") so tests can use PORT=0.
const net = require('node:net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function patchedListen(...args) {
  const port = typeof args[0] === 'string' && /^\d+$/.test(args[0]) ? Number(args[0]) : args[0];
  if (typeof port === 'number' && (args.length === 1 || typeof args[1] === 'function'))
    args.splice(0, 1, port, '127.0.0.1');
  this.once('listening', () => process.stderr.write(`LOOPBACK_PORT=${this.address().port}\n`));
  return listen.apply(this, args);
};
