// olm_peer.mjs: a matrix-js-sdk device (rust crypto, wasm) that exchanges Olm-encrypted MatrixRTC
// media keys (io.element.call.encryption_keys) with one other device, through a real homeserver.
//
//   node interop/olm_peer.mjs '<json config>'
//   config: {"baseUrl", "userId", "deviceId", "accessToken",      our (already registered) device
//            "peer": {"userId", "deviceId"},                       the device to talk to
//            "roomId", "key": {"index", "keyBase64"},              what we send (js-sdk ToDeviceKeyTransport)
//            "timeoutMs"}
//
// Protocol on stdout, one JSON object per line (SDK logs go to stderr):
//   {"event":"ready","curve25519","ed25519"}             crypto initialised, keys uploaded, first sync done
//   {"event":"sent"}                                      our key went out, Olm-encrypted, to the peer
//   {"event":"received","type","sender","content","encryptionInfo"}   every to-device message we got
//   {"event":"key","userId","deviceId","memberId","keyBase64","index"} a key ToDeviceKeyTransport accepted
//   {"event":"done"} / {"event":"error","message"}
// It sends after it has received the peer's key (so the peer can be started second and still get
// ours over an established session) unless config.sendFirst is true.
if (typeof Promise.withResolvers !== "function") {
    // Node 20: matrix-js-sdk >= 38 uses Promise.withResolvers (Node >= 22).
    Promise.withResolvers = function withResolvers() {
        let resolve, reject;
        const promise = new Promise((res, rej) => {
            resolve = res;
            reject = rej;
        });
        return { promise, resolve, reject };
    };
}

const emit = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
// The SDK logs through loglevel -> console.*: keep stdout for the protocol.
for (const level of ["log", "info", "debug", "warn", "trace"]) console[level] = (...a) => console.error(...a);

const cfg = JSON.parse(process.argv[2]);
const sdk = await import("matrix-js-sdk");
const { ToDeviceKeyTransport } = await import("matrix-js-sdk/lib/matrixrtc/ToDeviceKeyTransport.js");
const { KeyTransportEvents } = await import("matrix-js-sdk/lib/matrixrtc/IKeyTransport.js");
const { logger } = await import("matrix-js-sdk/lib/logger.js");
logger.setLevel(process.env.MXRTC_JS_LOG || "warn");

const timer = setTimeout(() => {
    emit({ event: "error", message: `timeout after ${cfg.timeoutMs} ms` });
    process.exit(1);
}, cfg.timeoutMs ?? 30000);

try {
    const client = sdk.createClient({
        baseUrl: cfg.baseUrl,
        userId: cfg.userId,
        deviceId: cfg.deviceId,
        accessToken: cfg.accessToken,
    });
    await client.initRustCrypto({ useIndexedDB: false });
    client.on(sdk.ClientEvent.ReceivedToDeviceMessage, ({ message, encryptionInfo }) => {
        emit({ event: "received", type: message.type, sender: message.sender, content: message.content,
               encryptionInfo: encryptionInfo ?? null });
    });
    const membership = { userId: cfg.userId, deviceId: cfg.deviceId, memberId: `${cfg.userId}:${cfg.deviceId}` };
    const statistics = { counters: { roomEventEncryptionKeysSent: 0, roomEventEncryptionKeysReceived: 0 },
                         totals: { roomEventEncryptionKeysReceivedTotalAge: 0 } };
    const transport = new ToDeviceKeyTransport(membership, cfg.roomId, client, statistics);
    const gotPeerKey = Promise.withResolvers();
    transport.on(KeyTransportEvents.ReceivedKeys, (member, keyBase64, index) => {
        emit({ event: "key", userId: member.userId, deviceId: member.deviceId, memberId: member.memberId,
               keyBase64, index });
        if (member.userId === cfg.peer.userId && member.deviceId === cfg.peer.deviceId) gotPeerKey.resolve();
    });
    transport.start();

    const prepared = Promise.withResolvers();
    client.on(sdk.ClientEvent.Sync, (state) => {
        if (state === "PREPARED" || state === "SYNCING") prepared.resolve();
        if (state === "ERROR") prepared.reject(new Error("sync error"));
    });
    await client.startClient({ initialSyncLimit: 1 });
    await prepared.promise;
    const crypto = client.getCrypto();
    const own = await crypto.getOwnDeviceKeys();
    emit({ event: "ready", curve25519: own.curve25519, ed25519: own.ed25519 });

    const send = async () => {
        // Make sure the peer's device keys are known, then send exactly as Element Call does.
        const devices = await crypto.getUserDeviceInfo([cfg.peer.userId], true);
        if (!devices.get(cfg.peer.userId)?.get(cfg.peer.deviceId))
            throw new Error(`peer device ${cfg.peer.deviceId} not found by /keys/query`);
        await transport.sendKey(cfg.key.keyBase64, cfg.key.index, [cfg.peer]);
        emit({ event: "sent" });
    };
    if (cfg.sendFirst) {
        await send();
        await gotPeerKey.promise;
    } else {
        await gotPeerKey.promise;
        await send();
    }
    // Give the outgoing to-device request queue time to flush before stopping.
    await new Promise((r) => setTimeout(r, cfg.lingerMs ?? 1000));
    transport.stop();
    client.stopClient();
    clearTimeout(timer);
    emit({ event: "done" });
    process.exit(0);
} catch (e) {
    emit({ event: "error", message: String(e?.stack ?? e) });
    process.exit(1);
}
