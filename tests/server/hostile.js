#!/usr/bin/env node
// A hostile Engine.IO / Socket.IO server for tests/c/test_hostile.c: raw `ws` and `http`, no socket.io.
// Each WebSocket (or HTTP) request picks its misbehaviour from the URL query: ?scenario=NAME.
//
// Usage: node hostile.js [--port N]
// stdout: one JSON object per line:
//   {"event":"listening","port":N}                                   once
//   {"event":"conn","scenario":S,"n":K}                               K-th request for scenario S (1-based)
//   {"event":"frame","scenario":S,"data":TEXT}                        a text frame from the client
//   {"event":"binary","scenario":S,"len":N}                           a binary frame from the client
//   {"event":"pongs","scenario":S,"count":N,"pings":M}                ping_flood: pongs for the flood's pings
//   {"event":"closed","scenario":S}                                   the client closed the WebSocket
//   {"event":"done","cmd":..,"ok":true}                               answer to a stdin command (ping, exit)
// Closing stdin or SIGTERM stops it.
"use strict";

const http = require("http");
const readline = require("readline");
const { WebSocketServer } = require("ws");

let port = 0;
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === "--port") port = Number(process.argv[++i]);
}

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

const counts = new Map();
const held = []; // sockets held open without an answer (silent_upgrade)

// A handshake as engine.io 6 writes it, with fields overridden per scenario.
function open(fields) {
  return "0" + JSON.stringify({ sid: "hostileSid0123456789", upgrades: [], pingInterval: 300, pingTimeout: 200, maxPayload: 1000000, ...fields });
}

// A raw WebSocket frame header (server to client: unmasked) for a payload of `len` bytes.
function frameHeader(opcode, len) {
  if (len < 126) return Buffer.from([0x80 | opcode, len]);
  if (len < 65536) return Buffer.from([0x80 | opcode, 126, len >> 8, len & 255]);
  const b = Buffer.alloc(10);
  b[0] = 0x80 | opcode;
  b[1] = 127;
  b.writeBigUInt64BE(BigInt(len), 2);
  return b;
}

// Scenarios that misbehave before or instead of the WebSocket upgrade: (req, socket) => void.
const HTTP_SCENARIOS = {
  // TCP accepted, the upgrade request read, never an answer.
  silent_upgrade(req, socket) {
    held.push(socket);
    socket.on("error", () => {});
  },
  http500(req, socket) {
    socket.end("HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 4\r\nConnection: close\r\n\r\nboom");
  },
  http403(req, socket) {
    const body = '{"code":4,"message":"Forbidden"}';
    socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
  },
};

// Scenarios after the upgrade. `handshake` is the first frame (a string), or a function (ws) that does
// the whole handshake itself. `connected(ws)` runs after the client's CONNECT for "/" was answered.
const WS_SCENARIOS = {
  // Engine.IO open packets that are not valid.
  bad_open_json: { handshake: '0{"sid":"abc",' },
  open_no_sid: { handshake: '0{"upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}' },
  open_not_object: { handshake: '0[1,2,3]' },
  not_open_first: { handshake: '40{"sid":"early"}' },
  binary_first: { handshake: (ws) => ws.send(Buffer.from([1, 2, 3])) },
  // Heartbeat settings out of range.
  // (written as text: JSON.stringify would round 2^64-1 to a float)
  ping_huge: {
    handshake: '0{"sid":"hostileSid0123456789","upgrades":[],"pingInterval":18446744073709551615,' +
      '"pingTimeout":18446744073709551615,"maxPayload":1000000}',
  },
  ping_zero: { handshake: open({ pingInterval: 0, pingTimeout: 0 }) },
  ping_negative: { handshake: open({ pingInterval: -1, pingTimeout: -5 }) },
  // 1 kHz pings for 2 s (the client answers each one and stays connected), then an event.
  ping_flood: {
    connected(ws, s) {
      let pongs = 0;
      let pings = 0;
      ws.on("message", (data, isBinary) => {
        if (!isBinary && data.toString() === "3") pongs++;
      });
      const timer = setInterval(() => {
        if (ws.readyState !== 1) return;
        ws.send("2");
        pings++;
      }, 1);
      setTimeout(() => {
        clearInterval(timer);
        // the last pongs are on their way: count them a little later
        setTimeout(() => {
          out({ event: "pongs", scenario: s, count: pongs, pings });
          if (ws.readyState === 1) ws.send('42["flood_over"]');
        }, 300);
      }, 2000);
    },
  },
  // Packets of unknown type: Engine.IO (engine.io-parser yields an error packet: "transport error")
  // and Socket.IO (socket.io-parser throws: "parse error").
  unknown_engine_type: { connected: (ws) => ws.send("9hello") },
  unknown_socket_type: { connected: (ws) => ws.send("49[1]") },
  // Binary attachments whose count lies.
  binary_fewer_than_said: {
    connected(ws) {
      ws.send('452-["bin",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
      ws.send(Buffer.from([1]));
      ws.send('42["text_mid_reassembly"]');
    },
  },
  binary_placeholder_out_of_range: {
    connected(ws) {
      ws.send('451-["bin",{"_placeholder":true,"num":7}]');
      ws.send(Buffer.from([1]));
    },
  },
  binary_too_many: { connected: (ws) => ws.send('4511-["bin"]') },
  binary_negative_count: { connected: (ws) => ws.send('45-1-["bin"]') },
  binary_no_header: { connected: (ws) => ws.send(Buffer.from([0xde, 0xad])) },
  // An ack for an id the client never used: ignored (socket.io-client: "bad ack"), the connection lives.
  ack_unknown: {
    connected(ws) {
      ws.send('43999["nobody asked"]');
      ws.send('4387654321987654321["nobody asked"]');
      ws.send('42["after_ack"]');
    },
  },
  // A frame whose header claims 2^40 bytes: refused as the header arrives, nothing allocated.
  oversized_frame: {
    connected(ws) {
      ws._socket.write(Buffer.concat([frameHeader(1, 2 ** 40), Buffer.from("4")]));
    },
  },
  // A text frame that is not UTF-8.
  invalid_utf8: {
    connected(ws) {
      ws._socket.write(Buffer.concat([frameHeader(1, 5), Buffer.from([0x34, 0x32, 0xff, 0xfe, 0x5b])]));
    },
  },
  // A CONNECT reply for a namespace the client never asked for, before the real one: ignored.
  connect_unasked: { beforeReply: (ws) => ws.send('40/never,{"sid":"unaskedSid"}') },
  // A Socket.IO event with invalid JSON: "parse error".
  bad_json_event: { connected: (ws) => ws.send('42["ev",{') },
  // The TCP connection closes in the middle of a frame.
  close_mid_frame: {
    connected(ws) {
      ws._socket.write(Buffer.concat([frameHeader(1, 300), Buffer.from('42["cut')]));
      setTimeout(() => ws._socket.destroy(), 50);
    },
  },
};

const server = http.createServer((req, res) => {
  res.writeHead(404).end();
});
const wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });

server.on("upgrade", (req, socket, head) => {
  const url = new URL(req.url, "http://localhost");
  const s = url.searchParams.get("scenario") || "none";
  const n = (counts.get(s) || 0) + 1;
  counts.set(s, n);
  socket.on("error", () => {}); // resets from the client are expected
  out({ event: "conn", scenario: s, n });
  if (HTTP_SCENARIOS[s]) return HTTP_SCENARIOS[s](req, socket);
  const sc = WS_SCENARIOS[s] || {};
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.on("error", () => {});
    // the heartbeat of the default handshake (pingInterval 300)
    const heartbeat = setInterval(() => ws.readyState === 1 && ws.send("2"), 300);
    ws.on("close", () => {
      clearInterval(heartbeat);
      out({ event: "closed", scenario: s });
    });
    ws.on("message", (data, isBinary) => {
      if (isBinary) return out({ event: "binary", scenario: s, len: data.length });
      const text = data.toString();
      if (text !== "3") out({ event: "frame", scenario: s, data: text });
      if (text === "40" || text.startsWith("40{")) {
        if (sc.beforeReply) sc.beforeReply(ws, s);
        ws.send('40{"sid":"hostileSocket' + n + '"}');
        if (sc.connected) setTimeout(() => ws.readyState === 1 && sc.connected(ws, s), 50);
      }
    });
    if (typeof sc.handshake === "function") sc.handshake(ws);
    else ws.send(sc.handshake || open({}));
  });
});

server.listen(port, "127.0.0.1", () => out({ event: "listening", port: server.address().port }));
server.on("error", (err) => {
  out({ event: "error", message: err.message, code: err.code || null });
  process.exit(1);
});

function shutdown() {
  for (const s of held) s.destroy();
  process.exit(0);
}
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const cmd = line.trim().split(/\s+/)[0];
  if (!cmd) return;
  out({ event: "done", cmd, ok: cmd === "ping" || cmd === "exit" });
  if (cmd === "exit") setImmediate(shutdown);
});
process.stdin.on("end", shutdown);
process.on("SIGTERM", shutdown);
