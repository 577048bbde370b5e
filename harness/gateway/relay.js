'use strict';
// In-container half of the harness relay. The agent container has no network, so the CLI's
// HTTP connections to 127.0.0.1:PORT are accepted here and multiplexed over this process's
// stdin/stdout (a `docker exec -i` channel) to the host half (harness/gateway/relay.py),
// which opens one TCP connection to the Gateway for each.
//
// Usage: node relay.js [HOST] [PORT]   (defaults 127.0.0.1 and 0 = any free port)
//
// Frame: type (1 byte) | connection id (uint32 BE) | payload length (uint32 BE) | payload
//   1 OPEN   container->host  a client connected
//   2 DATA   both ways        bytes for that connection
//   3 END    both ways        the sender will write no more (TCP half-close)
//   4 RESET  both ways        the connection is gone; drop it
//   5 HELLO  container->host  listening; payload is JSON {"port": N}
//   6 FATAL  container->host  cannot serve; payload is a message; the process exits
// When stdin ends (the host half went away) every connection is dropped and we exit.

const net = require('net');

const OPEN = 1, DATA = 2, END = 3, RESET = 4, HELLO = 5, FATAL = 6;
const MAX_PAYLOAD = 1 << 20;
const host = process.argv[2] || '127.0.0.1';
const port = parseInt(process.argv[3] || '0', 10);
const socks = new Map();
let nextId = 1;
let blocked = false;

function frame(type, id, payload) {
  const body = payload || Buffer.alloc(0);
  const head = Buffer.alloc(9);
  head.writeUInt8(type, 0);
  head.writeUInt32BE(id, 1);
  head.writeUInt32BE(body.length, 5);
  return Buffer.concat([head, body]);
}

function send(type, id, payload) {
  // Backpressure: when the pipe to the host is full, stop reading every client socket.
  if (!process.stdout.write(frame(type, id, payload)) && !blocked) {
    blocked = true;
    for (const s of socks.values()) s.pause();
    process.stdout.once('drain', () => {
      blocked = false;
      for (const s of socks.values()) s.resume();
    });
  }
}

function sendData(id, buf) {
  for (let off = 0; off < buf.length; off += MAX_PAYLOAD) {
    send(DATA, id, buf.subarray(off, off + MAX_PAYLOAD));
  }
}

function shutdown(code) {
  for (const s of socks.values()) s.destroy();
  socks.clear();
  server.close();
  process.exit(code);
}

const server = net.createServer({ allowHalfOpen: true }, (sock) => {
  const id = nextId++;
  socks.set(id, sock);
  sock.setNoDelay(true);
  if (blocked) sock.pause();
  send(OPEN, id);
  sock.on('data', (d) => sendData(id, d));
  sock.on('end', () => send(END, id));
  sock.on('error', () => {});
  sock.on('close', () => {
    if (socks.delete(id)) send(RESET, id);
  });
});

server.on('error', (err) => {
  process.stdout.write(frame(FATAL, 0, Buffer.from(`relay cannot listen on ${host}:${port}: ${err.message}`)),
    () => process.exit(1));
});

server.listen(port, host, () => {
  send(HELLO, 0, Buffer.from(JSON.stringify({ port: server.address().port })));
});

let pending = Buffer.alloc(0);
process.stdin.on('data', (chunk) => {
  pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
  while (pending.length >= 9) {
    const len = pending.readUInt32BE(5);
    if (pending.length < 9 + len) break;
    const type = pending.readUInt8(0);
    const id = pending.readUInt32BE(1);
    const payload = pending.subarray(9, 9 + len);
    pending = pending.subarray(9 + len);
    const sock = socks.get(id);
    if (!sock) continue;
    if (type === DATA) sock.write(payload);
    else if (type === END) sock.end();
    else if (type === RESET) {
      socks.delete(id);
      sock.destroy();
    }
  }
});
process.stdin.on('end', () => shutdown(0));
process.stdin.on('error', () => shutdown(0));
process.stdout.on('error', () => shutdown(0));
