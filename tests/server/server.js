#!/usr/bin/env node
// Test server for realtime's integration tests: a real socket.io 4.8 server on a loopback port.
//
// Usage:
//   node server.js [--port N] [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]] [--ping-interval MS] [--ping-timeout MS]
//                  [--connect-timeout MS] [--max-payload BYTES] [--recovery]
//
// Protocol with the test harness (tests/c/harness.c):
//   stdout: one JSON object per line, each with an "event" field:
//     {"event":"listening","port":N,"tls":bool}                      once, when listening
//     {"event":"connection","nsp":"/","id":..,"auth":..,"query":..,"headers":..,"recovered":bool}
//     {"event":"disconnect","nsp":..,"id":..,"reason":..}
//     {"event":"refused","nsp":..,"auth":..}                         middleware refused a CONNECT
//     {"event":"delaying","nsp":..,"ms":..}                          a CONNECT with auth.delayMs is held
//     {"event":"message","nsp":..,"id":..,"name":..,"args":[..]}     any event from a client (args w/o ack fn)
//     {"event":"connection_error","code":..,"message":..}            engine.io refused a request
//     {"event":"upgrade","conn":..,"transport":..}                   a polling connection upgraded
//     {"event":"engine_close","conn":..,"reason":..}                 an Engine.IO session ended
//   "connection" lines also carry "transport": the engine.io transport at that moment.
//   --transports polling[,websocket]: the transports the server accepts.
//     {"event":"done","cmd":..,"ok":bool[,"error":..][,...]}         answer to each stdin command
//   Added for the messaging tests (test_events/acks/binary/namespaces/offline/recovery/channels):
//     "connection" lines also carry "conn": the engine.io connection id (same for namespaces sharing
//       one WebSocket);
//     "message" lines also carry "bin": the args with every Buffer written as {"$bin":"<hex>"}
//       (only when an argument holds binary data);
//     {"event":"ack_answer","tag":..,"id":..,"name":..,"err":null|"..","args":[..]}  a client's answer
//       to an "emit-ack" command (binary as {"$bin":hex});
//     {"event":"burst_done","id":..,"count":N}                     after a "burst" command's last emit
//     {"event":"flood_done","id":..,"count":N,"ms":..}             after a "flood" command's last emit
//   "seq" events from clients (tag, n, payload) are counted per tag, not logged (see "seq-stats").
//   Binary in command arguments: write {"$bin":"<hex>"} where a Buffer goes.
//
// Peer mode: `node server.js --peer ...` runs tests/server/peer.js instead (a socket.io-client peer;
//   see that file), so the C harness's process machinery can start JS clients as well.
//   stdin: one command per line (see COMMANDS below). Every command is answered by exactly one "done"
//   line, in order. Closing stdin stops the server.
"use strict";

if (process.argv[2] === "--peer") {
  require("./peer.js");
  return;
}
// Agnost mode: `node server.js --agnost ...` runs the Agnost realtime service (tests/server/agnost.js);
// `node server.js --redis` runs a redis-server on a free loopback port for it (see that file).
if (process.argv[2] === "--agnost" || process.argv[2] === "--redis") {
  require("./agnost.js");
  return;
}

const fs = require("fs");
const http = require("http");
const https = require("https");
const readline = require("readline");
const { Server } = require("socket.io");
const { hasBinary, toWire, fromWire, splitWords } = require("./wire");

// ---------------------------------------------------------------------------------------------------
// Arguments
const opts = {
  port: 0,
  tlsCert: null,
  tlsKey: null,
  pingInterval: 300,
  pingTimeout: 200,
  connectTimeout: 10000,
  maxPayload: 1e6,
  recovery: false,
  transports: ["polling", "websocket"],
};

function usage(msg) {
  process.stderr.write(
    (msg ? msg + "\n" : "") +
      "usage: node server.js [--port N] [--tls-cert FILE --tls-key FILE] [--ping-interval MS]\n" +
      "                      [--ping-timeout MS] [--connect-timeout MS] [--max-payload BYTES] [--recovery]\n"
  );
  process.exit(2);
}

{
  const argv = process.argv.slice(2);
  const num = (i) => {
    const v = Number(argv[i + 1]);
    if (argv[i + 1] === undefined || !Number.isFinite(v) || v < 0) usage(`bad value for ${argv[i]}`);
    return v;
  };
  const str = (i) => {
    if (argv[i + 1] === undefined) usage(`missing value for ${argv[i]}`);
    return argv[i + 1];
  };
  for (let i = 0; i < argv.length; i++) {
    switch (argv[i]) {
      case "--port": opts.port = num(i); i++; break;
      case "--tls-cert": opts.tlsCert = str(i); i++; break;
      case "--tls-key": opts.tlsKey = str(i); i++; break;
      case "--tls-client-ca": opts.tlsClientCa = str(i); i++; break;
      case "--ping-interval": opts.pingInterval = num(i); i++; break;
      case "--ping-timeout": opts.pingTimeout = num(i); i++; break;
      case "--connect-timeout": opts.connectTimeout = num(i); i++; break;
      case "--max-payload": opts.maxPayload = num(i); i++; break;
      case "--recovery": opts.recovery = true; break;
      // --transports polling[,websocket]: the transports the server accepts (default both).
      case "--transports": opts.transports = str(i).split(","); i++; break;
      case "--help": case "-h": usage(); break;
      default: usage(`unknown argument ${argv[i]}`);
    }
  }
  if (!!opts.tlsCert !== !!opts.tlsKey) usage("--tls-cert and --tls-key go together");
}

// ---------------------------------------------------------------------------------------------------
// Output: one JSON line per event. process.stdout.write is synchronous for pipes and files on Linux.
function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

// ---------------------------------------------------------------------------------------------------
// Server
const httpServer = opts.tlsCert
  ? https.createServer({
      cert: fs.readFileSync(opts.tlsCert),
      key: fs.readFileSync(opts.tlsKey),
      // --tls-client-ca FILE: mutual TLS, a client certificate signed by that CA is required.
      ...(opts.tlsClientCa ? { ca: fs.readFileSync(opts.tlsClientCa), requestCert: true, rejectUnauthorized: true } : {}),
    })
  : http.createServer();

const serverOptions = {
  pingInterval: opts.pingInterval,
  pingTimeout: opts.pingTimeout,
  connectTimeout: opts.connectTimeout,
  maxHttpBufferSize: opts.maxPayload,
  transports: opts.transports,
  serveClient: false,
};
if (opts.recovery) {
  serverOptions.connectionStateRecovery = { maxDisconnectionDuration: 120000, skipMiddlewares: true };
}
const io = new Server(httpServer, serverOptions);

// {"event":"upgrade","conn":..,"transport":"websocket"} when a polling connection upgrades;
// {"event":"engine_close","conn":..,"reason":..} when an Engine.IO session ends ("transport close" when the
// client sent its close packet, "transport error" when a polling request was cut off, "ping timeout", …).
io.engine.on("connection", (conn) => {
  conn.on("upgrade", (transport) => out({ event: "upgrade", conn: conn.id, transport: transport.name }));
  conn.on("close", (reason) => out({ event: "engine_close", conn: conn.id, reason }));
});

io.engine.on("connection_error", (err) => {
  out({ event: "connection_error", code: err.code, message: err.message });
});

// Every live socket, by socket id (ids are unique across namespaces).
const sockets = new Map();

// Namespaces served. "Invalid namespace" for anything else.
const NAMESPACES = ["/", "/admin"];

function setupNamespace(nsp) {
  nsp.use((socket, next) => {
    const auth = socket.handshake.auth || {};
    const check = () => {
      if (auth.refuse) {
        out({ event: "refused", nsp: nsp.name, auth });
        const err = new Error("not authorized");
        err.data = { hint: "send token", code: 42 };
        return next(err);
      }
      next();
    };
    // auth.delayMs: hold the CONNECT reply (acceptance or refusal) that long — a CONNECT in flight —,
    // announced as {"event":"delaying","nsp":..,"ms":..} when the middleware starts waiting.
    const delay = Number(auth.delayMs);
    if (Number.isFinite(delay) && delay > 0) {
      out({ event: "delaying", nsp: nsp.name, ms: delay });
      return setTimeout(check, delay);
    }
    check();
  });

  nsp.on("connection", (socket) => {
    sockets.set(socket.id, socket);
    out({
      event: "connection",
      nsp: nsp.name,
      id: socket.id,
      auth: socket.handshake.auth,
      query: socket.handshake.query,
      headers: socket.handshake.headers, // Node lowercases header names
      recovered: !!socket.recovered,
      conn: socket.conn.id,
      transport: socket.conn.transport.name,
    });

    socket.on("disconnect", (reason) => {
      sockets.delete(socket.id);
      out({ event: "disconnect", nsp: nsp.name, id: socket.id, reason });
    });

    // Log every incoming event (the ack function, if any, is not part of "args").
    socket.onAny((name, ...args) => {
      if (name === "seq") return; // counted, not logged (thousands of them)
      const hasAck = args.length > 0 && typeof args[args.length - 1] === "function";
      const plain = hasAck ? args.slice(0, -1) : args;
      const line = { event: "message", nsp: nsp.name, id: socket.id, name, args: plain, ack: hasAck };
      if (hasBinary(plain)) line.bin = toWire(plain);
      out(line);
    });

    socket.data.profile = null;
    socket.data.echo = socket.handshake.auth ? socket.handshake.auth.echoMessages : undefined;

    for (const [name, handler] of Object.entries(EVENT_HANDLERS)) {
      socket.on(name, (...args) => handler(socket, ...args));
    }
  });
}

// Handlers registered on every socket: name -> (socket, ...args). Extend here.
const EVENT_HANDLERS = {
  // "echo": emit "echo" back with the same arguments; if the last argument is an ack function, call it
  // with the other arguments.
  echo(socket, ...args) {
    let ack = null;
    if (args.length > 0 && typeof args[args.length - 1] === "function") ack = args.pop();
    socket.emit("echo", ...args);
    if (ack) ack(...args);
  },

  // "relay" <targetSocketId> <event> ...args: target.emit(event, ...args) (binary kept); an ack
  // function, if any, is answered with {relayed: bool}.
  relay(socket, target, name, ...args) {
    const fn = args.length > 0 && typeof args[args.length - 1] === "function" ? args.pop() : null;
    const t = sockets.get(target);
    if (t && typeof name === "string") t.emit(name, ...args);
    if (fn) fn({ relayed: !!t });
  },

  // "ack": answer the ack function (if any) with the other arguments, emit nothing.
  ack(socket, ...args) {
    if (args.length > 0 && typeof args[args.length - 1] === "function") {
      const fn = args.pop();
      fn(...args);
    }
  },

  // "flaky" {key, ignore: N}: ignores the first N deliveries for `key` (across connections) and answers
  // the later ones with {key, delivery: <1-based count>}. Each delivery is logged as
  // {"event":"flaky","key":..,"delivery":n,"answered":bool}.
  flaky(socket, ...args) {
    const fn = args.length > 0 && typeof args[args.length - 1] === "function" ? args.pop() : null;
    const p = args[0] || {};
    const key = String(p.key);
    const n = (flakyCounts.get(key) || 0) + 1;
    flakyCounts.set(key, n);
    const answered = !!fn && n > (Number(p.ignore) || 0);
    out({ event: "flaky", key, delivery: n, answered });
    if (answered) fn({ key, delivery: n });
  },

  // ---- In-band test hooks, for wrapper tests that cannot signal this process (Swift runs in a chroot).
  // "test:restart" {downMs}: a real restart of the listener: every connection's transport is closed
  // (clients see "transport close"), the port refuses connections for downMs, then listens again.
  "test:restart"(socket, p) {
    const downMs = Number((p && p.downMs) || 500);
    const port = httpServer.address().port;
    out({ event: "restarting", downMs });
    httpServer.close();
    for (const client of Object.values(io.engine.clients)) client.close();
    setTimeout(() => httpServer.listen(port, "127.0.0.1", () => out({ event: "listening", port, restarted: true })), downMs);
  },
  // "test:ask" {event, args, timeoutMs}: the server emits <event> ...args to this socket asking for an
  // ack, then emits "test:answer" {error, args} with what the client answered.
  "test:ask"(socket, p) {
    const q = p || {};
    const args = Array.isArray(q.args) ? q.args : [];
    socket.timeout(Number(q.timeoutMs) || 5000).emit(String(q.event || "question"), ...args, (err, ...answer) => {
      socket.emit("test:answer", { error: err ? String(err.message || err) : null, args: answer });
    });
  },

  // "test:user-event" {eventName, session, user}: what Agnost's API server pushes to a user's sockets, sent
  // to this socket: <eventName> (eventName, session, user), e.g. "user:signin".
  "test:user-event"(socket, p) {
    const q = p || {};
    const name = String(q.eventName || "user:update");
    socket.emit(name, name, q.session === undefined ? null : q.session, q.user === undefined ? null : q.user);
  },

  // "test:drop": close this socket's transport (no DISCONNECT packet), leaving its ack request unanswered:
  // the client sees "transport close" with the ack pending on the wire.
  "test:drop"(socket) {
    socket.conn.close();
  },

  // "test:whoami" + ack: answers the auth this socket's CONNECT carried (socket.handshake.auth), for
  // wrapper tests that cannot read the "connection" lines.
  "test:whoami"(socket, ...args) {
    const fn = args.length > 0 && typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (fn) fn(socket.handshake.auth);
  },

  // ---- Agnost channels (client -> server vocabulary), in the real service's shapes without its
  // environments and middlewares (tests/server/agnost.js is the full service, with two nodes on Redis).
  // message {channel?, eventName, message, echo?}: to the channel's members (or everyone) as <eventName>
  // {channel|null, message} (the message as sent, no sender id); the sender too with echo.
  message(socket, p) {
    if (!p || typeof p !== "object" || typeof p.eventName !== "string") return;
    const channel = typeof p.channel === "string" ? p.channel : null;
    const payload = { channel, message: p.message === undefined ? null : p.message };
    const echo = p.echo ?? socket.data.echo;
    if (channel !== null) {
      (echo ? socket.nsp.to(channel) : socket.to(channel)).emit(p.eventName, payload);
    } else {
      (echo ? socket.nsp : socket.broadcast).emit(p.eventName, payload);
    }
  },
  // join {channel, echo?}: nothing if already a member; else the other members (and the joiner with
  // echo) get channel:join {channel, message:{id, data}}.
  join(socket, p) {
    if (!p || typeof p.channel !== "string" || socket.rooms.has(p.channel)) return;
    const envelope = { channel: p.channel, message: { id: socket.id, data: socket.data.profile } };
    socket.to(p.channel).emit("channel:join", envelope);
    socket.join(p.channel);
    if (p.echo ?? socket.data.echo) socket.emit("channel:join", envelope);
  },
  // leave {channel, echo?}: nothing if not a member; else leave, then channel:leave to the others.
  leave(socket, p) {
    if (!p || typeof p.channel !== "string" || !socket.rooms.has(p.channel)) return;
    socket.leave(p.channel);
    const envelope = { channel: p.channel, message: { id: socket.id, data: socket.data.profile } };
    socket.to(p.channel).emit("channel:leave", envelope);
    if (p.echo ?? socket.data.echo) socket.emit("channel:leave", envelope);
  },
  // update {data, echo?}: store the profile; each of the socket's channels gets channel:update.
  update(socket, p) {
    if (!p || typeof p !== "object") return;
    socket.data.profile = p.data === undefined ? null : p.data;
    const echo = p.echo ?? socket.data.echo;
    for (const room of socket.rooms) {
      if (room === socket.id) continue;
      (echo ? socket.nsp.to(room) : socket.to(room)).emit("channel:update", {
        channel: room,
        message: { id: socket.id, data: socket.data.profile },
      });
    }
  },
  // members {channel} + ack: answers [{id, data}] for the channel's members in this namespace.
  members(socket, ...args) {
    const fn = args.length > 0 && typeof args[args.length - 1] === "function" ? args.pop() : null;
    const p = args[0] || {};
    const ids = socket.nsp.adapter.rooms.get(String(p.channel)) || new Set();
    const list = [];
    for (const id of ids) {
      const s = socket.nsp.sockets.get(id);
      if (s) list.push({ id, data: s.data.profile === undefined ? null : s.data.profile });
    }
    if (fn) fn(list);
  },
};
const flakyCounts = new Map();

// "seq" <tag> <n> [payload]: per tag, how many arrived, the first and last n, and how many broke the
// order (n !== previous + 1: a duplicate, a gap or a reordering). Read with the "seq-stats" command.
const seqStats = new Map();
EVENT_HANDLERS.seq = (socket, tag, n) => {
  const key = String(tag);
  const st = seqStats.get(key) || { count: 0, first: null, last: null, disorder: 0 };
  if (st.last !== null && n !== st.last + 1) st.disorder++;
  if (st.first === null) st.first = n;
  st.last = n;
  st.count++;
  seqStats.set(key, st);
};


for (const name of NAMESPACES) setupNamespace(io.of(name));

// ---------------------------------------------------------------------------------------------------
// Commands from stdin. Each handler gets the rest of the line (after the command word) and returns an
// object merged into the "done" answer (or throws: ok=false with the error message). Extend here.
function needSocket(id) {
  const s = sockets.get(id);
  if (!s) throw new Error(`no socket ${id}`);
  return s;
}


const COMMANDS = {
  // disconnect <socketId>: server-side disconnect of the whole connection (every namespace).
  disconnect(rest) {
    needSocket(rest.trim()).disconnect(true);
    return {};
  },
  // transport <socketId>: answers {"transport": "polling"|"websocket"} for the socket's connection.
  transport(rest) {
    return { transport: needSocket(rest.trim()).conn.transport.name };
  },
  // disconnect-nsp <socketId>: server-side disconnect of this namespace only.
  "disconnect-nsp"(rest) {
    needSocket(rest.trim()).disconnect(false);
    return {};
  },
  // close-transport <socketId>: close the underlying engine.io connection without a DISCONNECT packet.
  "close-transport"(rest) {
    needSocket(rest.trim()).conn.close();
    return {};
  },
  // emit <socketId> <event> [<json-args-array>]
  emit(rest) {
    const [id, name, json] = splitWords(rest, 3);
    if (!id || !name) throw new Error("usage: emit <socketId> <event> [<json-args-array>]");
    const args = json ? JSON.parse(json) : [];
    if (!Array.isArray(args)) throw new Error("arguments must be a JSON array");
    needSocket(id).emit(name, ...args);
    return {};
  },
  // emit-bin <socketId> <event> <json-args-array>: like emit, {"$bin":"hex"} objects become Buffers.
  "emit-bin"(rest) {
    const [id, name, json] = splitWords(rest, 3);
    if (!id || !name) throw new Error("usage: emit-bin <socketId> <event> [<json-args-array>]");
    const args = fromWire(json ? JSON.parse(json) : []);
    if (!Array.isArray(args)) throw new Error("arguments must be a JSON array");
    needSocket(id).emit(name, ...args);
    return {};
  },
  // emit-ack <tag> <socketId> <timeoutMs> <event> [<json-args-array>]: emit asking the client for an ack
  // (binary as {"$bin":hex}); the answer (or the timeout) is printed later as an "ack_answer" line.
  "emit-ack"(rest) {
    const [tag, id, ms, name, json] = splitWords(rest, 5);
    if (!tag || !id || !ms || !name) throw new Error("usage: emit-ack <tag> <socketId> <timeoutMs> <event> [<json>]");
    const args = fromWire(json ? JSON.parse(json) : []);
    if (!Array.isArray(args)) throw new Error("arguments must be a JSON array");
    needSocket(id).timeout(Number(ms)).emit(name, ...args, (err, ...answer) => {
      out({ event: "ack_answer", tag, id, name, err: err ? String(err.message || err) : null, args: toWire(answer) });
    });
    return {};
  },
  // emit-to <nsp> <room> <event> [<json-args-array>]: io.of(nsp).to(room).emit(...) — also reaches a
  // socket that is disconnected but recoverable (connection state recovery replays it).
  "emit-to"(rest) {
    const [nsp, room, name, json] = splitWords(rest, 4);
    if (!nsp || !room || !name) throw new Error("usage: emit-to <nsp> <room> <event> [<json-args-array>]");
    const args = fromWire(json ? JSON.parse(json) : []);
    if (!Array.isArray(args)) throw new Error("arguments must be a JSON array");
    io.of(nsp).to(room).emit(name, ...args);
    return {};
  },
  // burst <socketId> <event> <count>: emit count small events [i] (i = 1..count) as fast as possible,
  // then print {"event":"burst_done",...}. Answered "done" at once.
  burst(rest) {
    const [id, name, countStr] = splitWords(rest, 3);
    const count = Number(countStr);
    if (!id || !name || !Number.isInteger(count) || count < 0) throw new Error("usage: burst <socketId> <event> <count>");
    const s = needSocket(id);
    const t0 = process.hrtime.bigint();
    for (let i = 1; i <= count; i++) s.emit(name, i);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    setImmediate(() => out({ event: "burst_done", id, count, ms }));
    return {};
  },
  // flood <socketId> <event> <count>: emit count small events [i] (i = 1..count), pausing while more
  // than 1 MiB waits in the server's own buffers for a client that does not read (so the server's
  // memory stays flat and the backlog sits in the kernel's socket buffers and the client), then print
  // {"event":"flood_done",...}. Answered "done" at once.
  flood(rest) {
    const [id, name, countStr] = splitWords(rest, 3);
    const count = Number(countStr);
    if (!id || !name || !Number.isInteger(count) || count < 0) throw new Error("usage: flood <socketId> <event> <count>");
    const s = needSocket(id);
    const t0 = process.hrtime.bigint();
    let i = 1;
    const backlog = () => {
      const ws = s.conn.transport && s.conn.transport.socket;
      return (ws && typeof ws.bufferedAmount === "number" ? ws.bufferedAmount : 0) + 64 * s.conn.writeBuffer.length;
    };
    const step = () => {
      if (!s.connected) return;
      while (i <= count && backlog() < 1 << 20) {
        for (const end = Math.min(count, i + 999); i <= end; i++) s.emit(name, i);
      }
      if (i <= count) return setTimeout(step, 2);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      setImmediate(() => out({ event: "flood_done", id, count, ms }));
    };
    setImmediate(step);
    return {};
  },
  // seq-stats <tag>: {count, first, last, disorder} of the "seq" events received with this tag.
  "seq-stats"(rest) {
    return seqStats.get(rest.trim()) || { count: 0, first: null, last: null, disorder: 0 };
  },
  // rooms <socketId>: the socket's rooms
  rooms(rest) {
    return { rooms: [...needSocket(rest.trim()).rooms] };
  },
  // sockets: list live socket ids
  sockets() {
    return { sockets: [...sockets.values()].map((s) => ({ id: s.id, nsp: s.nsp.name })) };
  },
  // ping: no-op, answers done (useful to synchronise with the output stream)
  ping() {
    return {};
  },
  // exit: stop the server
  exit() {
    setImmediate(shutdown);
    return {};
  },
};

function handleLine(line) {
  line = line.trim();
  if (!line) return;
  const m = /^(\S+)\s*(.*)$/.exec(line);
  const cmd = m[1];
  const handler = Object.prototype.hasOwnProperty.call(COMMANDS, cmd) ? COMMANDS[cmd] : null;
  if (!handler) {
    out({ event: "done", cmd, ok: false, error: "unknown command" });
    return;
  }
  try {
    const extra = handler(m[2]) || {};
    out({ event: "done", cmd, ok: true, ...extra });
  } catch (e) {
    out({ event: "done", cmd, ok: false, error: String(e && e.message ? e.message : e) });
  }
}

// ---------------------------------------------------------------------------------------------------
// Lifecycle
let shuttingDown = false;
function shutdown() {
  if (shuttingDown) return;
  shuttingDown = true;
  // Do not wait for clients to go away: exit promptly.
  try { io.close(); } catch (_) { /* ignore */ }
  setImmediate(() => process.exit(0));
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
process.on("SIGHUP", shutdown);
process.stdout.on("error", () => process.exit(0)); // reader went away (EPIPE)

const rl = readline.createInterface({ input: process.stdin, terminal: false });
rl.on("line", handleLine);
rl.on("close", shutdown);

httpServer.on("error", (err) => {
  out({ event: "error", message: err.message, code: err.code || null });
  process.exit(1);
});
httpServer.listen(opts.port, "127.0.0.1", () => {
  out({ event: "listening", port: httpServer.address().port, tls: !!opts.tlsCert });
});
