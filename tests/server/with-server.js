#!/usr/bin/env node
// Runs a command while the test server is up, for test suites that cannot start it themselves (the
// Swift and Kotlin wrapper tests): `node with-server.js [server args...] -- command [args...]`.
// The command gets REALTIME_TEST_PORT and REALTIME_TEST_URL (http://127.0.0.1:PORT); its exit code is
// this script's. The server is stopped afterwards, whatever happens.
"use strict";
const { spawn } = require("child_process");
const path = require("path");
const readline = require("readline");

const argv = process.argv.slice(2);
const dash = argv.indexOf("--");
if (dash < 0 || dash === argv.length - 1) {
  process.stderr.write("usage: node with-server.js [server args...] -- command [args...]\n");
  process.exit(2);
}
const serverArgs = argv.slice(0, dash);
const [command, ...commandArgs] = argv.slice(dash + 1);

const server = spawn(process.execPath, [path.join(__dirname, "server.js"), ...serverArgs], {
  stdio: ["pipe", "pipe", "inherit"],
});
const stopServer = () => {
  if (server.exitCode === null) server.kill("SIGKILL");
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
  const env = { ...process.env, REALTIME_TEST_PORT: String(msg.port), REALTIME_TEST_URL: `http://127.0.0.1:${msg.port}` };
  const child = spawn(command, commandArgs, { stdio: "inherit", env });
  child.on("exit", (code, signal) => process.exit(code === null ? 128 + (signal === "SIGKILL" ? 9 : 15) : code));
  child.on("error", (err) => {
    process.stderr.write(`with-server: cannot run ${command}: ${err.message}\n`);
    process.exit(127);
  });
});
server.on("exit", (code) => {
  if (!started) {
    process.stderr.write(`with-server: the test server exited (${code}) before listening\n`);
    process.exit(1);
  }
});
