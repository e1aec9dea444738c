// rtc_session_peer.mjs: a matrix-js-sdk MatrixRTC participant (MatrixRTCSession, MembershipManager,
// RTCEncryptionManager, ToDeviceKeyTransport, rust crypto as wasm) on a real homeserver. Nothing in
// here re-implements protocol: memberships, media keys, rotation and rings are all js-sdk's own.
//
//   node interop/rtc_session_peer.mjs <config.json>
//   config: {"baseUrl", "userId", "deviceId", "accessToken",   an already registered device
//            "roomId",                                        joined (or invited: we join) room
//            "focus": {"type":"livekit","livekit_service_url","livekit_alias"},
//            "join": true,                                    false: only watch the session
//            "notificationType": "ring"|"notification",       js-sdk rings when it starts the call
//            "callIntent", "manageMediaKeys" (default true), "useKeyDelay", "keyRotationGracePeriodMs",
//            "delayedLeaveEventDelayMs", "timeoutMs",          timeoutMs: hard exit (default 120 s)
//            "exposeKeys"}                                    true: "key" events carry key_hex (tests that
//                                                             bridge js-sdk's keys into a LiveKit peer only)
// Signals: SIGUSR2 = leave the session but keep watching; SIGTERM / SIGINT = leave and exit 0.
//
// Protocol on stdout, one JSON object per line (SDK logs go to stderr; MXRTC_JS_LOG=debug for more):
//   {"event":"ready","curve25519","ed25519"}            crypto up, keys uploaded, first sync done
//   {"event":"join_state","joined"}                      MatrixRTCSessionEvent.JoinStateChanged
//   {"event":"memberships","members":[{userId,deviceId,memberId,rtcBackendIdentity,createdTs,eventId,
//        callIntent,transports,transport}],"oldest"}    MembershipsChanged (transport: what the member
//                                                        uses, i.e. getTransport(oldest membership))
//   {"event":"key","own","userId","deviceId","memberId","index","sha256","identity","ts"}
//        EncryptionKeyChanged: sha256 = hex SHA-256 of the raw key bytes (the key itself is only
//        printed with exposeKeys), identity = the LiveKit participant identity js-sdk maps it to
//   {"event":"notification_sent","event_id","content"}  DidSendCallNotification
//   {"event":"notification","type","event_id","sender","content","encrypted","valid","invalid_reason"}
//        an rtc.notification / call.notify / decline seen through the client's timeline events;
//        valid/invalid_reason: js-sdk's parseCallNotificationContent (rtc.notification only)
//   {"event":"left","ok"} / {"event":"done"} / {"event":"error","message"} / {"event":"warning","message"}
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

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

const emit = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
// The SDK logs through loglevel -> console.*: keep stdout for the protocol.
for (const level of ["log", "info", "debug", "warn", "trace"]) console[level] = (...a) => console.error(...a);

const cfg = JSON.parse(readFileSync(process.argv[2], "utf8"));
const sdk = await import("matrix-js-sdk");
const rtc = await import("matrix-js-sdk/lib/matrixrtc/index.js");
const { logger } = await import("matrix-js-sdk/lib/logger.js");
logger.setLevel(process.env.MXRTC_JS_LOG || "warn");

const hardTimeout = setTimeout(() => {
    emit({ event: "error", message: `timeout after ${cfg.timeoutMs ?? 120000} ms` });
    process.exit(1);
}, cfg.timeoutMs ?? 120000);

const sha256Hex = (bytes) => createHash("sha256").update(bytes).digest("hex");
const NOTIFICATION_TYPES = new Set([
    "org.matrix.msc4075.rtc.notification",
    "org.matrix.msc4075.call.notify",
    "m.rtc.notification",
    "m.call.notify",
    "org.matrix.msc4310.rtc.decline",
]);

let client;
let session;
let exiting = false;

async function leave(timeoutMs) {
    if (!session?.isJoined()) return false;
    const ok = await session.leaveRoomSession(timeoutMs);
    emit({ event: "left", ok });
    return ok;
}

async function shutdown(code) {
    if (exiting) return;
    exiting = true;
    try {
        await leave(3000);
    } catch (e) {
        emit({ event: "warning", message: `leave failed: ${e}` });
    }
    client?.stopClient();
    clearTimeout(hardTimeout);
    emit({ event: "done" });
    process.exit(code);
}
process.on("SIGTERM", () => void shutdown(0));
process.on("SIGINT", () => void shutdown(0));
process.on("SIGUSR2", () => {
    leave(5000).catch((e) => emit({ event: "warning", message: `leave failed: ${e}` }));
});

try {
    client = sdk.createClient({
        baseUrl: cfg.baseUrl,
        userId: cfg.userId,
        deviceId: cfg.deviceId,
        accessToken: cfg.accessToken,
    });
    await client.initRustCrypto({ useIndexedDB: false });

    // Rings, as any js-sdk client sees them: room timeline events (decrypted where needed).
    const seen = new Set();
    const onRoomEvent = async (ev) => {
        if (ev.getRoomId() !== cfg.roomId || ev.isDecryptionFailure() || ev.isBeingDecrypted()) return;
        if (ev.getId()?.startsWith("~")) return; // our own local echo: wait for the server's copy
        const type = ev.getType();
        if (!NOTIFICATION_TYPES.has(type) || seen.has(ev.getId())) return;
        seen.add(ev.getId());
        const line = {
            event: "notification",
            type,
            event_id: ev.getId(),
            sender: ev.getSender(),
            content: ev.getContent(),
            encrypted: ev.isEncrypted(),
        };
        if (type === "org.matrix.msc4075.rtc.notification") {
            try {
                await rtc.parseCallNotificationContent(ev, {
                    room: client.getRoom(cfg.roomId),
                    userId: cfg.userId,
                });
                line.valid = true;
            } catch (e) {
                line.valid = false;
                line.invalid_reason = String(e?.message ?? e);
            }
        }
        emit(line);
    };
    client.on(sdk.RoomEvent.Timeline, (ev) => void onRoomEvent(ev));
    client.on(sdk.MatrixEventEvent.Decrypted, (ev) => void onRoomEvent(ev));

    const prepared = Promise.withResolvers();
    client.on(sdk.ClientEvent.Sync, (state) => {
        if (state === "PREPARED" || state === "SYNCING") prepared.resolve();
        if (state === "ERROR") prepared.reject(new Error("sync error"));
    });
    await client.startClient({ initialSyncLimit: 20 });
    await prepared.promise;

    if (client.getRoom(cfg.roomId)?.getMyMembership() !== "join") await client.joinRoom(cfg.roomId);
    let room;
    for (let i = 0; i < 200; i++) {
        room = client.getRoom(cfg.roomId);
        if (room?.getMyMembership() === "join") break;
        await new Promise((r) => setTimeout(r, 50));
    }
    if (room?.getMyMembership() !== "join") throw new Error(`could not join ${cfg.roomId}`);

    const crypto = client.getCrypto();
    const own = await crypto.getOwnDeviceKeys();
    emit({ event: "ready", curve25519: own.curve25519, ed25519: own.ed25519 });

    session = client.matrixRTC.getRoomSession(room);
    const E = rtc.MatrixRTCSessionEvent;
    const describe = () => {
        const oldest = session.getOldestMembership();
        return {
            event: "memberships",
            members: session.memberships.map((m) => ({
                userId: m.userId,
                deviceId: m.deviceId,
                memberId: m.memberId,
                rtcBackendIdentity: m.rtcBackendIdentity,
                createdTs: m.createdTs(),
                eventId: m.eventId,
                callIntent: m.callIntent ?? null,
                transports: m.transports,
                transport: oldest ? (m.getTransport(oldest) ?? null) : null,
            })),
            oldest: oldest ? `${oldest.userId}:${oldest.deviceId}` : null,
        };
    };
    session.on(E.MembershipsChanged, () => emit(describe()));
    session.on(E.JoinStateChanged, (joined) => emit({ event: "join_state", joined }));
    session.on(E.EncryptionKeyChanged, (key, index, membership, identity) => {
        emit({
            event: "key",
            own: membership.userId === cfg.userId && membership.deviceId === cfg.deviceId,
            userId: membership.userId,
            deviceId: membership.deviceId,
            memberId: membership.memberId,
            index,
            sha256: sha256Hex(key),
            // Test bridges only (a LiveKit participant that decrypts with js-sdk's keys): the raw key.
            ...(cfg.exposeKeys ? { key_hex: Buffer.from(key).toString("hex") } : {}),
            identity,
            ts: Date.now(),
        });
    });
    session.on(E.DidSendCallNotification, (content) =>
        emit({ event: "notification_sent", event_id: content.event_id, content }),
    );
    session.on(E.MembershipManagerError, (e) => emit({ event: "warning", message: `membership manager: ${e}` }));
    emit(describe());

    if (cfg.join !== false) {
        const joinConfig = {
            manageMediaKeys: cfg.manageMediaKeys ?? true,
            callIntent: cfg.callIntent ?? "video",
        };
        if (cfg.notificationType) joinConfig.notificationType = cfg.notificationType;
        for (const k of ["useKeyDelay", "keyRotationGracePeriodMs", "delayedLeaveEventDelayMs"])
            if (cfg[k] !== undefined) joinConfig[k] = cfg[k];
        session.joinRTCSession(
            { userId: cfg.userId, deviceId: cfg.deviceId, memberId: `${cfg.userId}:${cfg.deviceId}` },
            [cfg.focus],
            undefined,
            joinConfig,
        );
    }
} catch (e) {
    emit({ event: "error", message: String(e?.stack ?? e) });
    process.exit(1);
}
