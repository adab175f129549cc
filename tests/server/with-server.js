#!/usr/bin/env node
// Runs a command while the test server is up, for test suites that cannot start it themselves (the
// Swift and Kotlin wrapper tests): `node with-server.js [server args...] -- command [args...]`.
// The command gets REALTIME_TEST_PORT and REALTIME_TEST_URL (http://127.0.0.1:PORT); its exit code is
// this script's. The server is stopped afterwards, whatever happens.
// When Debian's tinyproxy is installed (make proxy-deps), a real HTTP CONNECT proxy runs beside it on a free
// loopback port: REALTIME_TEST_HTTP_PROXY (http://127.0.0.1:PORT) and REALTIME_TEST_HTTP_PROXY_LOG (its log).
"use strict";
const { spawn } = require("child_process");
const fs = require("fs");
const net = require("net");
const os = require("os");
const path = require("path");
const readline = require("readline");

const TINYPROXY = "/usr/bin/tinyproxy";

// a free loopback port (bound, then released for the proxy to take)
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

// resolves once something accepts connections on the port
function accepting(port, deadline) {
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const sock = net.connect(port, "127.0.0.1");
      sock.once("connect", () => { sock.destroy(); resolve(); });
      sock.once("error", () => {
        sock.destroy();
        if (Date.now() > deadline) reject(new Error(`nothing listens on ${port}`));
        else setTimeout(attempt, 20);
      });
    };
    attempt();
  });
}

let proxy = null;
let proxyDir = null;
async function startProxy() {
  if (!fs.existsSync(TINYPROXY)) return {};
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rt-tinyproxy-"));
  proxyDir = dir;
  const log = path.join(dir, "tinyproxy.log");
  for (let tries = 0; tries < 5; tries++) {
    const port = await freePort();
    const conf = path.join(dir, "tinyproxy.conf");
    fs.writeFileSync(conf, `Port ${port}\nListen 127.0.0.1\nTimeout 60\nMaxClients 50\nAllow 127.0.0.1\n` +
      `LogLevel Connect\nLogFile "${log}"\n`);
    proxy = spawn(TINYPROXY, ["-d", "-c", conf], { stdio: ["ignore", "ignore", "inherit"] });
    try {
      await accepting(port, Date.now() + 5000);
      return { REALTIME_TEST_HTTP_PROXY: `http://127.0.0.1:${port}`, REALTIME_TEST_HTTP_PROXY_LOG: log };
    } catch {
      proxy.kill("SIGKILL");
      proxy = null;
    }
  }
  process.stderr.write("with-server: tinyproxy did not start; the proxy tests will be skipped\n");
  return {};
}

const argv = process.argv.slice(2);
const dash = argv.indexOf("--");
if (dash < 0 || dash === argv.length - 1) {
  process.stderr.write("usage: node with-server.js [server args...] -- command [args...]\n");
  process.exit(2);
}
const serverArgs = argv.slice(0, dash);
// server.js's own heartbeat (300 + 200 ms) is for the C suite's ping tests; the wrapper suites run on a JVM
// or under swift test on a loaded machine, where a 500 ms stall of the client dropped a connection in the
// middle of a test ("socket has been disconnected"). None of them tests the heartbeat.
if (!serverArgs.includes("--ping-interval")) serverArgs.push("--ping-interval", "5000");
if (!serverArgs.includes("--ping-timeout")) serverArgs.push("--ping-timeout", "5000");
const [command, ...commandArgs] = argv.slice(dash + 1);

const server = spawn(process.execPath, [path.join(__dirname, "server.js"), ...serverArgs], {
  stdio: ["pipe", "pipe", "inherit"],
});
const stopServer = () => {
  if (server.exitCode === null) server.kill("SIGKILL");
  if (proxy && proxy.exitCode === null) proxy.kill("SIGKILL");
  if (proxyDir) fs.rmSync(proxyDir, { recursive: true, force: true });
};
process.on("exit", stopServer);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(130));

const timer = setTimeout(() => {
  process.stderr.write("with-server: the test server did not start within 15 s\n");
  process.exit(1);
}, 15000);
let started = false;
readline.createInterface({ input: server.stdout }).on("line", (line) => {
  if (process.env.RT_VERBOSE) process.stderr.write(`server: ${line}\n`);
  if (started) return;
  let msg;
  try { msg = JSON.parse(line); } catch { return; }
  if (msg.event !== "listening") return;
  started = true;
  clearTimeout(timer);
  startProxy().then((proxyEnv) => {
    const env = { ...process.env, ...proxyEnv, REALTIME_TEST_PORT: String(msg.port),
      REALTIME_TEST_URL: `http://127.0.0.1:${msg.port}` };
    const child = spawn(command, commandArgs, { stdio: "inherit", env });
    child.on("exit", (code, signal) => process.exit(code === null ? 128 + (signal === "SIGKILL" ? 9 : 15) : code));
    child.on("error", (err) => {
      process.stderr.write(`with-server: cannot run ${command}: ${err.message}\n`);
      process.exit(127);
    });
  });
});
server.on("exit", (code) => {
  if (!started) {
    process.stderr.write(`with-server: the test server exited (${code}) before listening\n`);
    process.exit(1);
  }
});
