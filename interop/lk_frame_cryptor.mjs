#!/usr/bin/env node
// Interop harness: runs livekit-client's OWN (unmodified, from npm) E2EE frame
// cryptor worker bundle under Node to encrypt / decrypt media frames.
//
// Usage: node interop/lk_frame_cryptor.mjs < request.json > response.json
// See interop/README-lk_frame_cryptor.md for the JSON protocol.
//
// How it works: the worker bundle
//   node_modules/livekit-client/dist/livekit-client.e2ee.worker.mjs
// is imported into an emulated dedicated-worker global scope (self ===
// globalThis, a global postMessage that captures outgoing messages, a global
// `onmessage` the bundle assigns its handler to). It is then driven through
// its real message protocol exactly as livekit-client's E2eeManager does:
//   init -> setKey (one per key; last = current) -> enable -> encode|decode
// with a ReadableStream/WritableStream pair carrying fake RTCEncoded*Frame
// objects. No crypto is done here; livekit-client's FrameCryptor does it.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const OVERALL_TIMEOUT_MS = 10_000;
const PER_FRAME_TIMEOUT_MS = 5_000;

function log(...args) {
  process.stderr.write(`[lk_frame_cryptor] ${args.join(' ')}\n`);
}

function fail(msg) {
  process.stderr.write(`lk_frame_cryptor: ${String(msg).replace(/\s*\n\s*/g, ' ')}\n`);
  process.exit(1);
}

const overallTimer = setTimeout(() => fail(`timeout after ${OVERALL_TIMEOUT_MS} ms`), OVERALL_TIMEOUT_MS);


process.on('uncaughtException', (e) => fail(`uncaught exception: ${e && e.stack ? e.stack : e}`));
process.on('unhandledRejection', (e) => fail(`unhandled rejection: ${e && e.stack ? e.stack : e}`));

// ---------------------------------------------------------------- helpers

function hexToBytes(hex, what) {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new Error(`${what}: not an even-length hex string`);
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

function bytesToHex(buf) {
  return Buffer.from(buf instanceof ArrayBuffer ? new Uint8Array(buf) : buf).toString('hex');
}

function errText(e) {
  if (e === undefined || e === null) return String(e);
  if (e instanceof Error) return e.message;
  if (typeof e === 'object') {
    try {
      return JSON.stringify(e);
    } catch {
      return String(e);
    }
  }
  return String(e);
}

// ------------------------------------------------- fake RTCEncoded*Frame

// Audio frames must NOT have a `type` property anywhere on the prototype chain:
// livekit-client's isVideoFrame() is `'type' in frame`.
class RTCEncodedAudioFrame {
  constructor(data, timestamp, metadata) {
    this.data = data;
    this.timestamp = timestamp;
    this._metadata = metadata;
  }
  getMetadata() {
    return { ...this._metadata };
  }
}

class RTCEncodedVideoFrame {
  constructor(data, type, timestamp, metadata) {
    this.data = data;
    this.type = type;
    this.timestamp = timestamp;
    this._metadata = metadata;
  }
  getMetadata() {
    return { ...this._metadata };
  }
}

// --------------------------------------------- emulated worker global scope

const outbox = []; // every message the worker posted, in order
const listeners = new Set();

function installWorkerScope() {
  globalThis.self = globalThis;
  // the bundle does a bare `onmessage = ...` (strict-mode ESM): the global must exist
  globalThis.onmessage = null;
  globalThis.postMessage = (msg /* , transfer */) => {
    outbox.push(msg);
    if (msg && msg.kind === 'log') {
      const d = msg.data || {};
      let ctx = '';
      if (d.context !== undefined) {
        try {
          ctx = ' ' + JSON.stringify(d.context, (k, v) => (v instanceof Error ? `${v.name}: ${v.message}` : v));
        } catch {
          ctx = ' [context]';
        }
      }
      log(`worker ${d.level}: ${d.msg}${ctx}`);
    } else if (msg && msg.kind === 'error') {
      log(`worker error message: ${errText(msg.data && msg.data.error)}`);
    } else if (msg && msg.kind === 'ratchetKey') {
      const d = msg.data || {};
      log(`worker ratchetKey: participant=${d.participantIdentity} keyIndex=${d.keyIndex}`);
    }
    for (const l of [...listeners]) l(msg);
  };
  globalThis.RTCEncodedAudioFrame = RTCEncodedAudioFrame;
  globalThis.RTCEncodedVideoFrame = RTCEncodedVideoFrame;
}

function dispatchToWorker(msg) {
  if (typeof globalThis.onmessage !== 'function') throw new Error('worker did not install onmessage');
  globalThis.onmessage({ data: msg });
}

function waitForMessage(pred, what, timeoutMs = PER_FRAME_TIMEOUT_MS) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      listeners.delete(l);
      reject(new Error(`timed out waiting for ${what}`));
    }, timeoutMs);
    const l = (m) => {
      if (pred(m)) {
        clearTimeout(t);
        listeners.delete(l);
        resolve(m);
      }
    };
    listeners.add(l);
  });
}

// ---------------------------------------------------------------- main

function mimeTypeFor(kind, codec) {
  if (kind === 'audio') return `audio/${codec === 'opus' ? 'opus' : codec}`;
  switch (codec) {
    case 'vp8':
      return 'video/VP8';
    case 'vp9':
      return 'video/VP9';
    case 'h264':
      return 'video/H264';
    case 'h265':
      return 'video/H265';
    case 'av1':
      return 'video/AV1';
    default:
      return `video/${codec}`;
  }
}

function readStdin() {
  return readFileSync(0, 'utf8');
}

async function main() {
  let req;
  try {
    req = JSON.parse(readStdin());
  } catch (e) {
    fail(`invalid JSON on stdin: ${errText(e)}`);
  }
  const mode = req.mode;
  if (mode !== 'encrypt' && mode !== 'decrypt') fail(`mode must be "encrypt" or "decrypt"`);
  const participantIdentity = req.participantIdentity;
  if (typeof participantIdentity !== 'string' || !participantIdentity) fail('participantIdentity missing');
  const kind = req.kind;
  if (kind !== 'audio' && kind !== 'video') fail('kind must be "audio" or "video"');
  const codec = req.codec ?? (kind === 'audio' ? 'opus' : undefined);
  if (kind === 'video' && !codec) fail('codec missing for video');
  if (!Array.isArray(req.keys) || req.keys.length === 0) fail('keys must be a non-empty array');
  if (!Array.isArray(req.frames)) fail('frames must be an array');

  const keyProviderOptions = {
    sharedKey: false,
    ratchetSalt: req.ratchetSalt ?? 'LKFrameEncryptionKey',
    ratchetWindowSize: req.ratchetWindowSize ?? 8,
    failureTolerance: req.failureTolerance ?? 10,
    keyringSize: req.keyringSize ?? 16,
    keySize: req.keySize ?? 128, // livekit-client default (KEY_PROVIDER_DEFAULTS.keySize)
  };
  const logLevel = req.logLevel ?? process.env.LK_LOGLEVEL ?? 'warn';

  // Optional: pin FrameCryptor's initial per-SSRC send counter (normally
  // Math.floor(Math.random() * 0xffff)) so encrypt output is deterministic.
  if (req.sendCount !== undefined && req.sendCount !== null) {
    const n = Number(req.sendCount);
    if (!Number.isInteger(n) || n < 0 || n >= 0xffff) fail('sendCount must be an integer in [0, 0xfffe]');
    const r = (n + 0.5) / 0xffff;
    Math.random = () => r;
  }

  const keys = req.keys.map((k, i) => {
    const bytes = hexToBytes(k.key, `keys[${i}].key`);
    if (bytes.length === 0) throw new Error(`keys[${i}].key is empty`);
    const index = Number(k.index ?? 0);
    if (!Number.isInteger(index) || index < 0 || index > 255) throw new Error(`keys[${i}].index out of range`);
    return { index, bytes };
  });

  installWorkerScope();
  // resolve through the package's own "exports" map: livekit-client/e2ee-worker
  // -> dist/livekit-client.e2ee.worker.mjs (the exact file browsers load)
  const here = dirname(fileURLToPath(import.meta.url));
  const require = createRequire(join(here, 'package.json'));
  const workerCjsPath = require.resolve('livekit-client/e2ee-worker'); // dist/livekit-client.e2ee.worker.js
  const distDir = dirname(workerCjsPath);
  const workerPath = join(distDir, 'livekit-client.e2ee.worker.mjs');
  const lkVersion = JSON.parse(readFileSync(join(distDir, '..', 'package.json'), 'utf8')).version;
  log(`loading livekit-client ${lkVersion} worker bundle ${workerPath}`);
  await import(pathToFileURL(workerPath).href);

  // 1) init (same shape as E2eeManager's E2EEWorkerMessage 'init')
  const initAck = waitForMessage((m) => m && m.kind === 'initAck', 'initAck');
  dispatchToWorker({ kind: 'init', data: { keyProviderOptions, loglevel: logLevel } });
  await initAck;

  // 2) keys: material made like livekit-client's createKeyMaterialFromBuffer
  //    (importKey 'raw' as HKDF, deriveBits/deriveKey); the worker derives the
  //    AES-GCM key itself (deriveKeys with ratchetSalt).
  for (const k of keys) {
    const material = await crypto.subtle.importKey('raw', k.bytes, 'HKDF', false, ['deriveBits', 'deriveKey']);
    dispatchToWorker({
      kind: 'setKey',
      data: { participantIdentity, isPublisher: mode === 'encrypt', key: material, keyIndex: k.index, updateCurrentKeyIndex: true },
    });
  }

  // optional: server-injected-frame trailer (E2eeManager sends it from the join response)
  if (req.sifTrailer) {
    dispatchToWorker({ kind: 'setSifTrailer', data: { trailer: hexToBytes(req.sifTrailer, 'sifTrailer') } });
  }

  // 3) enable encryption for the participant (FrameCryptor.isEnabled() reads it);
  //    the echo also tells us every queued setKey has completed (sequential queue).
  const enableAck = waitForMessage((m) => m && m.kind === 'enable', 'enable ack');
  dispatchToWorker({ kind: 'enable', data: { participantIdentity, enabled: true } });
  await enableAck;

  // 4) streams. Each input frame is followed by an empty "sentinel" frame,
  //    which FrameCryptor always passes straight through (empty DTX frame
  //    rule). The transform is sequential, so once the sentinel reaches the
  //    sink, the real frame has been fully processed: if it did not arrive
  //    before the sentinel, the cryptor dropped it.
  let readableController;
  const readableStream = new ReadableStream(
    {
      start(c) {
        readableController = c;
      },
    },
    { highWaterMark: 0 },
  );
  let sinkWaiter = null;
  const received = [];
  let pipeBroken = null; // set if the worker's pipe errored (it then aborts our sink)
  const writableStream = new WritableStream({
    write(frame) {
      received.push(frame);
      if (sinkWaiter) sinkWaiter();
    },
    abort(reason) {
      pipeBroken = `transform pipeline aborted: ${errText(reason)}`;
      log(pipeBroken);
      if (sinkWaiter) sinkWaiter();
    },
    close() {
      if (!pipeBroken) pipeBroken = 'transform pipeline closed';
      if (sinkWaiter) sinkWaiter();
    },
  });
  const waitForSentinel = (sentinel) =>
    new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        sinkWaiter = null;
        reject(new Error('timed out waiting for frame to pass through the cryptor'));
      }, PER_FRAME_TIMEOUT_MS);
      const check = () => {
        if (received.includes(sentinel) || pipeBroken) {
          clearTimeout(t);
          sinkWaiter = null;
          resolve();
        }
      };
      sinkWaiter = check;
      check();
    });

  const trackId = `interop-${kind}-track`;
  dispatchToWorker({
    kind: mode === 'encrypt' ? 'encode' : 'decode',
    data: {
      participantIdentity,
      trackId,
      readableStream,
      writableStream,
      codec: kind === 'video' ? codec : undefined,
      hasPacketTrailer: false,
    },
  });

  const mimeType = mimeTypeFor(kind, codec);
  const mkFrame = (bytes, f) => {
    const ssrc = Number(f.ssrc ?? 0) >>> 0;
    const rtpTimestamp = Number(f.rtpTimestamp ?? 0) >>> 0;
    const payloadType = f.payloadType ?? (kind === 'audio' ? 111 : 96);
    const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const metadata = {
      synchronizationSource: ssrc,
      rtpTimestamp,
      payloadType,
      mimeType,
      contributingSources: [],
    };
    if (kind === 'audio') return new RTCEncodedAudioFrame(buf, rtpTimestamp, metadata);
    const type = f.type ?? 'delta';
    return new RTCEncodedVideoFrame(buf, type, rtpTimestamp, metadata);
  };

  const results = [];
  for (let i = 0; i < req.frames.length; i++) {
    const f = req.frames[i];
    let frame;
    try {
      frame = mkFrame(hexToBytes(f.data, `frames[${i}].data`), f);
    } catch (e) {
      results.push({ error: `bad input frame: ${errText(e)}` });
      continue;
    }
    const sentinel = mkFrame(new Uint8Array(0), f);
    sentinel.__sentinel = true;
    if (pipeBroken) {
      results.push({ error: `not processed: ${pipeBroken}` });
      continue;
    }
    const mark = outbox.length;
    try {
      readableController.enqueue(frame);
      readableController.enqueue(sentinel);
    } catch (e) {
      pipeBroken = pipeBroken ?? `transform pipeline gone: ${errText(e)}`;
      results.push({ error: `not processed: ${pipeBroken}` });
      continue;
    }
    await waitForSentinel(sentinel);
    const idx = received.indexOf(frame);
    const msgs = outbox.slice(mark);
    if (idx >= 0) {
      results.push({ data: bytesToHex(frame.data) });
    } else {
      const errMsg = msgs.find((m) => m && m.kind === 'error');
      const warnLog = [...msgs].reverse().find((m) => m && m.kind === 'log' && (m.data.level === 'error' || m.data.level === 'warn'));
      let reason;
      if (pipeBroken) reason = pipeBroken;
      else if (errMsg) reason = errText(errMsg.data && errMsg.data.error);
      else if (warnLog) reason = warnLog.data.msg;
      else reason = 'no worker message (frame silently dropped, e.g. key index marked invalid after failureTolerance)';
      results.push({ error: `frame dropped by livekit-client FrameCryptor: ${reason}` });
    }
    received.length = 0;
  }
  if (!pipeBroken) readableController.close();

  process.stdout.write(JSON.stringify({ frames: results }) + '\n');
  process.exit(0);
}

main().catch((e) => fail(e instanceof Error ? (process.env.LK_DEBUG ? e.stack : e.message) : e));
