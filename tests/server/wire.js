// Helpers shared by server.js and peer.js (the test server and the JS peer): binary values travel in
// their JSON lines as {"$bin":"<hex>"}, and stdin commands are split into words.
"use strict";

function hasBinary(v) {
  if (Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return true;
  if (Array.isArray(v)) return v.some(hasBinary);
  if (v && typeof v === "object") return Object.values(v).some(hasBinary);
  return false;
}

function toWire(v) {
  if (Buffer.isBuffer(v)) return { $bin: v.toString("hex") };
  if (v instanceof ArrayBuffer) return { $bin: Buffer.from(v).toString("hex") };
  if (ArrayBuffer.isView(v)) return { $bin: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("hex") };
  if (Array.isArray(v)) return v.map(toWire);
  if (v && typeof v === "object") {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = toWire(x);
    return o;
  }
  return v;
}

function fromWire(v) {
  if (Array.isArray(v)) return v.map(fromWire);
  if (v && typeof v === "object") {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === "$bin" && typeof v.$bin === "string") return Buffer.from(v.$bin, "hex");
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = fromWire(x);
    return o;
  }
  return v;
}

function splitWords(rest, n) {
  // first n-1 whitespace-separated words, then the remainder of the line as the n-th element
  const words = [];
  let s = rest;
  for (let i = 0; i < n - 1; i++) {
    s = s.replace(/^\s+/, "");
    const m = /^\S+/.exec(s);
    if (!m) break;
    words.push(m[0]);
    s = s.slice(m[0].length);
  }
  s = s.trim();
  if (s.length) words.push(s);
  return words;
}

module.exports = { hasBinary, toWire, fromWire, splitWords };
