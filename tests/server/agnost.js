#!/usr/bin/env node
// The Agnost realtime service, as the real one behaves (cloud-agnost/agnost-community engine/realtime,
// see /work/shared/AGNOST.md), for realtime's channel tests — plus the API server's members endpoint.
//
// Usage (through server.js, so the C harness's process machinery drives it):
//   node server.js --agnost [--redis-port N] [--port N] [--ping-interval MS] [--ping-timeout MS]
//   node server.js --redis                 a redis-server on a free loopback port (see startRedis below)
// With --redis-port, every node shares that Redis through @socket.io/redis-adapter: rooms, broadcasts
// and fetchSockets span the nodes, as in Agnost's deployment.
//
// Realtime service (socket.io path /realtime/):
//   - middlewares, in the real order: environment (auth.envId; suspended / realtime disabled /
//     no_environment_found), API key (auth.apiKey when the environment requires one), session
//     (auth.session when required; a valid one sets the user). Refusals are connect_error with the real
//     message and data {origin:"client_error", code, message}. auth.accessToken === MASTER_TOKEN: the
//     API server's master socket, every check bypassed. auth.echoMessages is the socket's echo default.
//   - rooms: <envId>, <envId>.<userId> with a session, <envId>.<channel> per joined channel;
//   - join/leave/update/message/members/get_members/send_message/broadcast_message/user_event and the
//     channel:leave on disconnect exactly as the real handlers (payload.echo ?? socket's echoMessages).
// API server (same HTTP listener):
//   POST /<envId>/agnost/realtime/get-members  {channel}, Authorization: <apiKey>, Session: <token>
//     -> 200 [{id, data}] across every node (fetchSockets), or an error status with {errors:[…]}.
//     (The apiBaseUrl of an environment is http://127.0.0.1:PORT/<envId>.)
//
// stdout lines (one JSON object each): listening {port}; connection {id, envId, userId, auth};
//   refused {code, auth}; disconnect {id, reason}; message {id, name, args[, bin]} for every client event;
//   http {path, status, authorization, session, body}; done {cmd, ok, ...} for each stdin command.
// stdin commands:
//   user-event <envId> <userId> <eventName> <sessionJson> <userJson>   (to <envId>.<userId>, all nodes)
//   send-message <envId> <channel> <eventName> <json> | broadcast-message <envId> <eventName> <json>
//   members <envId> <channel> (answer in done.members) | rooms <socketId> | close-transport <socketId>
//   ping | exit
"use strict";

const http = require("http");
const net = require("net");
const readline = require("readline");
const { spawn } = require("child_process");
const { Server } = require("socket.io");
const { hasBinary, toWire, splitWords } = require("./wire");

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

// ---------------------------------------------------------------------------------------------------
// Environments and sessions: what the real service reads from its cache (the same on every node).
const MASTER_TOKEN = "master-access-token";
const ENVIRONMENTS = {
  // API key required, session optional (a valid session still sets the user)
  env1: { realtime: { enabled: true, apiKeyRequired: true, sessionRequired: false }, apiKeys: [{ key: "key1", allowRealtime: true }] },
  // API key and session required
  envs: { realtime: { enabled: true, apiKeyRequired: true, sessionRequired: true }, apiKeys: [{ key: "key2", allowRealtime: true }] },
  // no API key configured at all
  envnokeys: { realtime: { enabled: true, apiKeyRequired: true, sessionRequired: false }, apiKeys: [] },
  suspended: { suspended: true, realtime: { enabled: true } },
  disabled: { realtime: { enabled: false } },
};
// session token -> session
const SESSIONS = {
  "sess-ann": { envId: "env1", userId: "ann" },
  "sess-bob": { envId: "env1", userId: "bob" },
  "sess-sue": { envId: "envs", userId: "sue" },
};

function errorMessage(error, details, code) {
  const err = new Error(error);
  err.data = { origin: "client_error", code, message: details };
  return err;
}

// The real middlewares (authEnvironment, checkApiKey, checkSession), in the real order.
function authenticate(socket) {
  const auth = socket.handshake.auth || {};
  if (auth.accessToken === MASTER_TOKEN) {
    socket.data.master = true;
    return null;
  }
  const env = Object.prototype.hasOwnProperty.call(ENVIRONMENTS, auth.envId) ? ENVIRONMENTS[auth.envId] : null;
  if (!env)
    return errorMessage(
      "Realtime Connection Error - No Environment Found",
      "Cannot identify the execution environment of the app version. Either there is no app version deployed yet, or the API base URL is not pointing to a valid environment.",
      "no_environment_found"
    );
  if (env.suspended)
    return errorMessage(
      "Realtime Connection Error - Suspended Environment",
      "Access to environment has been suspended, no operation can be executed until suspension has been revoked.",
      "suspended_environment"
    );
  if (!env.realtime.enabled)
    return errorMessage(
      "Realtime Connection Error - Realtime Disabled",
      "Realtime services are disabled for the application version.",
      "realtime_not_allowed"
    );
  socket.data.envId = auth.envId;
  socket.data.echo = auth.echoMessages;
  socket.data.master = false;

  if (env.realtime.apiKeyRequired) {
    const apiKey = auth.apiKey;
    if (!apiKey || !String(apiKey).trim())
      return errorMessage("Realtime Connection Error - Missing API Key", "A valid API Key needs to be provided", "missing_api_key");
    if (!env.apiKeys || env.apiKeys.length === 0)
      return errorMessage(
        "Realtime Connection Error - Invalid API Key",
        `Application version does not have such an API Key (${apiKey})`,
        "invalid_api_key"
      );
    const entry = env.apiKeys.find((k) => k.key === apiKey);
    if (!entry)
      return errorMessage(
        "Realtime Connection Error - Invalid API Key",
        `Application version does not have such an API key (${apiKey})`,
        "invalid_api_key"
      );
  }

  const token = auth.session;
  const session = token && Object.prototype.hasOwnProperty.call(SESSIONS, token) ? SESSIONS[token] : null;
  const valid = session && session.envId === auth.envId;
  if (env.realtime.sessionRequired) {
    if (!token)
      return errorMessage(
        "Realtime Connection Error - Missing Session Token",
        "No valid session token provided for socket authentication",
        "missing_session_token"
      );
    if (!valid)
      return errorMessage(
        "Realtime Connection Error - Invalid Session Token",
        "The Session token was not authorized or has expired",
        "invalid_session_token"
      );
  }
  if (valid) socket.data.userId = session.userId;
  return null;
}

// ---------------------------------------------------------------------------------------------------
// Helpers

// `node server.js --redis`: redis-server on a free loopback port, stopped with this process (a watcher
// shell kills it when this process is gone, even after SIGKILL).
function startRedis() {
  const probe = net.createServer();
  probe.listen(0, "127.0.0.1", () => {
    const port = probe.address().port;
    probe.close(() => {
      const script =
        `redis-server --port ${port} --bind 127.0.0.1 --save '' --appendonly no --loglevel warning & r=$!; ` +
        `trap 'kill $r 2>/dev/null; exit 0' TERM INT; ` +
        `while kill -0 ${process.pid} 2>/dev/null && kill -0 $r 2>/dev/null; do sleep 0.3; done; kill $r 2>/dev/null`;
      const child = spawn("sh", ["-c", script], { stdio: ["ignore", "ignore", "inherit"] });
      const stop = () => {
        try { child.kill("SIGTERM"); } catch (_) { /* gone */ }
        setTimeout(() => process.exit(0), 50);
      };
      process.on("SIGTERM", stop);
      process.on("SIGINT", stop);
      child.on("exit", () => process.exit(0));
      const t0 = Date.now();
      const tryConnect = () => {
        const s = net.connect(port, "127.0.0.1");
        s.on("connect", () => {
          s.end();
          out({ event: "listening", port, redis: true });
        });
        s.on("error", () => {
          if (Date.now() - t0 > 10000) {
            out({ event: "error", message: "redis-server did not start" });
            process.exit(1);
          }
          setTimeout(tryConnect, 50);
        });
      };
      tryConnect();
      const rl = readline.createInterface({ input: process.stdin, terminal: false });
      rl.on("line", (line) => {
        const cmd = line.trim().split(/\s+/)[0];
        if (cmd === "exit") stop();
        else if (cmd) out({ event: "done", cmd, ok: cmd === "ping" });
      });
      rl.on("close", stop);
    });
  });
}

if (process.argv.includes("--redis")) {
  startRedis();
  return;
}

const opts = { port: 0, redisPort: 0, pingInterval: 300, pingTimeout: 200 };
{
  const argv = process.argv.slice(2).filter((a) => a !== "--agnost");
  for (let i = 0; i < argv.length; i++) {
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < 0) {
        process.stderr.write(`bad value for ${argv[i - 1]}\n`);
        process.exit(2);
      }
      return v;
    };
    switch (argv[i]) {
      case "--port": opts.port = num(); break;
      case "--redis-port": opts.redisPort = num(); break;
      case "--ping-interval": opts.pingInterval = num(); break;
      case "--ping-timeout": opts.pingTimeout = num(); break;
      default:
        process.stderr.write(`unknown argument ${argv[i]}\n`);
        process.exit(2);
    }
  }
}

const httpServer = http.createServer();
const io = new Server(httpServer, {
  path: "/realtime/",
  pingInterval: opts.pingInterval,
  pingTimeout: opts.pingTimeout,
  maxHttpBufferSize: 1e8,
  transports: ["websocket", "polling"],
  serveClient: false,
  cors: { origin: "*" },
});

const sockets = new Map();

io.use((socket, next) => {
  const err = authenticate(socket);
  if (err) {
    out({ event: "refused", code: err.data.code, auth: socket.handshake.auth });
    return next(err);
  }
  next();
});

// The room of a channel and back.
const channelRoom = (envId, channel) => `${envId}.${channel}`;
function channelRooms(socket) {
  const rooms = [];
  for (const roomId of socket.rooms) {
    if (roomId === socket.id || roomId === socket.data.envId || roomId === `${socket.data.envId}.${socket.data.userId}`) continue;
    const entries = roomId.split(".");
    entries.shift();
    rooms.push({ roomId, channel: entries.join(".") });
  }
  return rooms;
}

async function members(envId, channel) {
  const list = await io.in(channelRoom(envId, channel)).fetchSockets();
  return (list || []).map((s) => ({ id: s.id, data: s.data.profile === undefined ? null : s.data.profile }));
}

io.on("connection", (socket) => {
  sockets.set(socket.id, socket);
  if (!socket.data.master) {
    socket.join(socket.data.envId);
    if (socket.data.userId) socket.join(`${socket.data.envId}.${socket.data.userId}`);
  }
  out({
    event: "connection",
    id: socket.id,
    envId: socket.data.envId || null,
    userId: socket.data.userId || null,
    master: !!socket.data.master,
    auth: socket.handshake.auth,
  });

  socket.onAny((name, ...args) => {
    const hasAck = args.length > 0 && typeof args[args.length - 1] === "function";
    const plain = hasAck ? args.slice(0, -1) : args;
    const line = { event: "message", id: socket.id, name, args: plain, ack: hasAck };
    if (hasBinary(plain)) line.bin = toWire(plain);
    out(line);
  });

  socket.on("disconnect", (reason) => {
    sockets.delete(socket.id);
    out({ event: "disconnect", id: socket.id, reason });
  });

  socket.on("disconnecting", () => {
    for (const { roomId, channel } of channelRooms(socket)) {
      socket.to(roomId).emit("channel:leave", { channel, message: { id: socket.id, data: socket.data.profile } });
    }
  });

  // From the API server (master socket).
  socket.on("user_event", (p) => {
    io.to(`${p.envId}.${p.userId}`).emit(p.eventName, p.eventName, p.session, p.user);
  });
  socket.on("send_message", (p) => {
    io.to(channelRoom(p.envId, p.channelName)).emit(p.eventName, { channel: p.channelName, message: p.message });
  });
  socket.on("broadcast_message", (p) => {
    io.to(`${p.envId}`).emit(p.eventName, { channel: null, message: p.message });
  });
  socket.on("get_members", async (p, callback) => {
    if (typeof callback === "function") callback(await members(p.envId, p.channel));
  });

  // From the clients.
  socket.on("message", (p) => {
    if (!p || typeof p !== "object") return;
    const echo = p.echo ?? socket.data.echo;
    const target = p.channel ? channelRoom(socket.data.envId, p.channel) : `${socket.data.envId}`;
    const payload = { channel: p.channel ? p.channel : null, message: p.message };
    (echo ? io.to(target) : socket.to(target)).emit(p.eventName, payload);
  });
  socket.on("update", (p) => {
    if (!p || typeof p !== "object") return;
    socket.data.profile = p.data;
    const echo = p.echo ?? socket.data.echo;
    for (const { roomId, channel } of channelRooms(socket)) {
      (echo ? io.to(roomId) : socket.to(roomId)).emit("channel:update", {
        channel,
        message: { id: socket.id, data: p.data },
      });
    }
  });
  socket.on("join", (p) => {
    if (!p || typeof p !== "object") return;
    const room = channelRoom(socket.data.envId, p.channel);
    if (socket.rooms.has(room)) return;
    const envelope = { channel: p.channel, message: { id: socket.id, data: socket.data.profile } };
    socket.to(room).emit("channel:join", envelope);
    socket.join(room);
    if (p.echo ?? socket.data.echo) socket.emit("channel:join", envelope);
  });
  socket.on("leave", (p) => {
    if (!p || typeof p !== "object") return;
    const room = channelRoom(socket.data.envId, p.channel);
    if (!socket.rooms.has(room)) return;
    socket.leave(room);
    const envelope = { channel: p.channel, message: { id: socket.id, data: socket.data.profile } };
    socket.to(room).emit("channel:leave", envelope);
    if (p.echo ?? socket.data.echo) socket.emit("channel:leave", envelope);
  });
  socket.on("members", async (p, callback) => {
    if (typeof callback === "function") callback(await members(socket.data.envId, p && p.channel));
  });
});

// ---------------------------------------------------------------------------------------------------
// The API server's members endpoint.
function httpError(res, status, code, message) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify({ errors: [{ origin: "client_error", code, message }] }));
  return { status, code };
}

httpServer.on("request", (req, res) => {
  if (req.url.startsWith("/realtime/")) return; // socket.io's
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", async () => {
    const body = Buffer.concat(chunks).toString("utf8");
    const m = /^\/([^/]+)\/agnost\/realtime\/get-members$/.exec(req.url);
    const log = { event: "http", method: req.method, path: req.url, authorization: req.headers.authorization || null,
      session: req.headers.session || null, body };
    const answer = await (async () => {
      if (!m || req.method !== "POST") return httpError(res, 404, "resource_not_found", "The requested resource could not be found");
      const envId = m[1];
      const env = Object.prototype.hasOwnProperty.call(ENVIRONMENTS, envId) ? ENVIRONMENTS[envId] : null;
      if (!env) return httpError(res, 404, "no_environment_found", "Cannot identify the execution environment of the app version");
      const key = req.headers.authorization;
      if (env.realtime.apiKeyRequired) {
        if (!key) return httpError(res, 401, "missing_api_key", "A valid API Key needs to be provided");
        if (!(env.apiKeys || []).some((k) => k.key === key))
          return httpError(res, 401, "invalid_api_key", `Application version does not have such an API key (${key})`);
      }
      const token = req.headers.session;
      const session = token && Object.prototype.hasOwnProperty.call(SESSIONS, token) ? SESSIONS[token] : null;
      if (env.realtime.sessionRequired && !token)
        return httpError(res, 401, "missing_session_token", "No valid session token provided");
      if (token && !(session && session.envId === envId))
        return httpError(res, 401, "invalid_session_token", "The session token was not authorized or has expired");
      let parsed;
      try {
        parsed = JSON.parse(body);
      } catch (_) {
        return httpError(res, 400, "invalid_request_body", "The request body is not valid JSON");
      }
      if (!parsed || typeof parsed.channel !== "string" || !parsed.channel)
        return httpError(res, 422, "invalid_request_body", "channel is required");
      const list = await members(envId, parsed.channel);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(list));
      return { status: 200 };
    })();
    out({ ...log, status: answer.status });
  });
});

// ---------------------------------------------------------------------------------------------------
// Commands from stdin.
function needSocket(id) {
  const s = sockets.get(id);
  if (!s) throw new Error(`no socket ${id}`);
  return s;
}

const COMMANDS = {
  "user-event"(rest) {
    const [envId, userId, eventName, sessionJson, userJson] = splitWords(rest, 5);
    if (!envId || !userId || !eventName || !sessionJson || !userJson)
      throw new Error("usage: user-event <envId> <userId> <eventName> <sessionJson> <userJson>");
    io.to(`${envId}.${userId}`).emit(eventName, eventName, JSON.parse(sessionJson), JSON.parse(userJson));
    return {};
  },
  "send-message"(rest) {
    const [envId, channel, eventName, json] = splitWords(rest, 4);
    if (!envId || !channel || !eventName || json === undefined) throw new Error("usage: send-message <envId> <channel> <eventName> <json>");
    io.to(channelRoom(envId, channel)).emit(eventName, { channel, message: JSON.parse(json) });
    return {};
  },
  "broadcast-message"(rest) {
    const [envId, eventName, json] = splitWords(rest, 3);
    if (!envId || !eventName || json === undefined) throw new Error("usage: broadcast-message <envId> <eventName> <json>");
    io.to(envId).emit(eventName, { channel: null, message: JSON.parse(json) });
    return {};
  },
  async members(rest) {
    const [envId, channel] = splitWords(rest, 2);
    return { members: await members(envId, channel) };
  },
  rooms(rest) {
    return { rooms: [...needSocket(rest.trim()).rooms] };
  },
  "close-transport"(rest) {
    needSocket(rest.trim()).conn.close();
    return {};
  },
  ping() {
    return {};
  },
  exit() {
    setImmediate(shutdown);
    return {};
  },
};

// Answers in command order, also for the asynchronous ones.
let chain = Promise.resolve();
function handleLine(line) {
  line = line.trim();
  if (!line) return;
  const m = /^(\S+)\s*(.*)$/.exec(line);
  const cmd = m[1];
  chain = chain.then(async () => {
    const handler = Object.prototype.hasOwnProperty.call(COMMANDS, cmd) ? COMMANDS[cmd] : null;
    if (!handler) return out({ event: "done", cmd, ok: false, error: "unknown command" });
    try {
      const extra = (await handler(m[2])) || {};
      out({ event: "done", cmd, ok: true, ...extra });
    } catch (e) {
      out({ event: "done", cmd, ok: false, error: String(e && e.message ? e.message : e) });
    }
  });
}

let shuttingDown = false;
function shutdown() {
  if (shuttingDown) return;
  shuttingDown = true;
  try { io.close(); } catch (_) { /* ignore */ }
  setImmediate(() => process.exit(0));
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
process.stdout.on("error", () => process.exit(0));

const rl = readline.createInterface({ input: process.stdin, terminal: false });
rl.on("line", handleLine);
rl.on("close", shutdown);

async function main() {
  if (opts.redisPort) {
    const { createClient } = require("redis");
    const { createAdapter } = require("@socket.io/redis-adapter");
    const pubClient = createClient({ url: `redis://127.0.0.1:${opts.redisPort}` });
    const subClient = pubClient.duplicate();
    pubClient.on("error", () => {});
    subClient.on("error", () => {});
    await Promise.all([pubClient.connect(), subClient.connect()]);
    // fetchSockets across nodes waits for every node's answer: a short timeout keeps a killed node
    // from stalling the members answer of the live ones.
    io.adapter(createAdapter(pubClient, subClient, { requestsTimeout: 1000 }));
  }
  httpServer.on("error", (err) => {
    out({ event: "error", message: err.message, code: err.code || null });
    process.exit(1);
  });
  httpServer.listen(opts.port, "127.0.0.1", () => {
    out({ event: "listening", port: httpServer.address().port, redis: !!opts.redisPort });
  });
}
main().catch((e) => {
  out({ event: "error", message: String(e && e.message) });
  process.exit(1);
});
