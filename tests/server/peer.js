#!/usr/bin/env node
// A socket.io-client 4.8 peer for realtime's messaging tests: the JS reference client, connected to the
// test server next to the C client under test. Started through server.js (`node server.js --peer ...`)
// so that the C harness's process machinery (rt_server_*) drives it; tests/c/peer.{h,c} wraps that.
//
// Usage:
//   node server.js --peer --url URL [--auth JSON] [--path PATH] [--agnost] [--port N]
//     URL: http://127.0.0.1:PORT[/namespace]; --auth: the handshake auth object (e.g. {"echoMessages":true});
//     --path: the socket.io path (Agnost's is /realtime/); --agnost: in the shape of Agnost's client
//     (autoJoinChannels): join/leave/update are remembered and, on every connect, the last profile is
//     sent again first, then every joined channel.
//
// stdout: one JSON object per line, each with an "event" field:
//   {"event":"ready","id":..}                          first connect (then:)
//   {"event":"listening","port":N}                     N = the server's port (for the harness)
//   {"event":"connect","id":..,"recovered":bool}       every connect
//   {"event":"disconnect","reason":..}
//   {"event":"connect_error","message":..}
//   {"event":"recv","name":..,"args":[..],"ack":bool}  every event received (binary as {"$bin":"hex"});
//                                                      an ack request is answered with the same args
//   {"event":"ack_answer","tag":..,"err":..,"args":[..]}  answer to emit-ack / members
//   {"event":"done","cmd":..,"ok":bool[,"error":..]}   one per stdin command, in order
// stdin commands:
//   emit <event> [<json-args-array>]                   ({"$bin":"hex"} -> Buffer)
//   emit-ack <tag> <timeoutMs> <event> [<json-args-array>]
//   join <channel> | leave <channel> | update <json-profile>
//   send <channel|-> <eventName> <json-message>        ("-": broadcast, no channel)
//   members <tag> <channel>                            (answer as ack_answer with tag)
//   close | open | ping | exit
"use strict";

const readline = require("readline");
const { io } = require("socket.io-client");
const { toWire, fromWire, splitWords } = require("./wire");

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}
function usage(msg) {
  process.stderr.write((msg ? msg + "\n" : "") + "usage: node server.js --peer --url URL [--auth JSON]\n");
  process.exit(2);
}

let url = null;
let auth = undefined;
let path = undefined;
let agnost = false;
let serverPort = 0;
{
  const argv = process.argv.slice(3);
  for (let i = 0; i < argv.length; i++) {
    switch (argv[i]) {
      case "--url": url = argv[++i]; break;
      case "--auth": auth = JSON.parse(argv[++i]); break;
      case "--path": path = argv[++i]; break;
      case "--agnost": agnost = true; break;
      case "--port": ++i; break; // added by the harness on restart; ignored
      default: usage(`unknown argument ${argv[i]}`);
    }
  }
  if (!url) usage("--url is required");
  serverPort = Number(new URL(url).port) || 80;
}


const socket = io(url, {
  transports: ["websocket"],
  auth,
  path,
  reconnectionDelay: 100,
  reconnectionDelayMax: 200,
  forceNew: true,
});

// Agnost's client state (--agnost): the last profile and the joined channels, re-sent on connect.
let profile = undefined;
const joined = new Map(); // channel -> echo flag (undefined: the socket's default)

let first = true;
socket.on("connect", () => {
  if (agnost) {
    if (profile !== undefined) socket.emit("update", { data: profile });
    for (const [channel, echo] of joined) socket.emit("join", echo === undefined ? { channel } : { channel, echo });
  }
  out({ event: "connect", id: socket.id, recovered: !!socket.recovered });
  if (first) {
    first = false;
    out({ event: "ready", id: socket.id });
    out({ event: "listening", port: serverPort });
  }
});
socket.on("disconnect", (reason) => out({ event: "disconnect", reason }));
socket.on("connect_error", (err) => out({ event: "connect_error", message: String(err && err.message) }));
socket.onAny((name, ...args) => {
  const fn = args.length > 0 && typeof args[args.length - 1] === "function" ? args.pop() : null;
  out({ event: "recv", name, args: toWire(args), ack: !!fn });
  if (fn) fn(...args);
});

function parseArgs(json) {
  const args = fromWire(json ? JSON.parse(json) : []);
  if (!Array.isArray(args)) throw new Error("arguments must be a JSON array");
  return args;
}

const COMMANDS = {
  emit(rest) {
    const [name, json] = splitWords(rest, 2);
    if (!name) throw new Error("usage: emit <event> [<json>]");
    socket.emit(name, ...parseArgs(json));
  },
  "emit-ack"(rest) {
    const [tag, ms, name, json] = splitWords(rest, 4);
    if (!tag || !ms || !name) throw new Error("usage: emit-ack <tag> <timeoutMs> <event> [<json>]");
    socket.timeout(Number(ms)).emit(name, ...parseArgs(json), (err, ...answer) => {
      out({ event: "ack_answer", tag, err: err ? String(err.message || err) : null, args: toWire(answer) });
    });
  },
  join(rest) {
    const channel = rest.trim();
    if (agnost) {
      if (joined.has(channel)) return;
      joined.set(channel, undefined);
      if (!socket.connected) return;
    }
    socket.emit("join", { channel });
  },
  leave(rest) {
    const channel = rest.trim();
    if (agnost) joined.delete(channel);
    socket.emit("leave", { channel });
  },
  update(rest) {
    const data = JSON.parse(rest);
    if (agnost) profile = data;
    socket.emit("update", { data });
  },
  send(rest) {
    const [channel, eventName, json] = splitWords(rest, 3);
    if (!channel || !eventName || json === undefined) throw new Error("usage: send <channel|-> <eventName> <json>");
    const p = { eventName, message: JSON.parse(json) };
    if (channel !== "-") p.channel = channel;
    socket.emit("message", p);
  },
  members(rest) {
    const [tag, channel] = splitWords(rest, 2);
    socket.timeout(5000).emit("members", { channel }, (err, list) => {
      out({ event: "ack_answer", tag, err: err ? String(err.message || err) : null, args: [list] });
    });
  },
  close() {
    socket.close();
  },
  open() {
    socket.connect();
  },
  ping() {},
  exit() {
    setImmediate(() => {
      socket.close();
      process.exit(0);
    });
  },
};

const rl = readline.createInterface({ input: process.stdin, terminal: false });
rl.on("line", (line) => {
  line = line.trim();
  if (!line) return;
  const m = /^(\S+)\s*(.*)$/.exec(line);
  const cmd = m[1];
  const handler = Object.prototype.hasOwnProperty.call(COMMANDS, cmd) ? COMMANDS[cmd] : null;
  if (!handler) return out({ event: "done", cmd, ok: false, error: "unknown command" });
  try {
    handler(m[2]);
    out({ event: "done", cmd, ok: true, id: socket.id || null });
  } catch (e) {
    out({ event: "done", cmd, ok: false, error: String(e && e.message ? e.message : e) });
  }
});
rl.on("close", () => {
  socket.close();
  process.exit(0);
});
process.on("SIGTERM", () => process.exit(0));
process.stdout.on("error", () => process.exit(0));
