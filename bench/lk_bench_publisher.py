"""A send-only LiveKit participant for bench/livekit_cpu.py (LiveKit Python SDK 1.2.0, libwebrtc).

Publishes a sine tone (Opus) and a moving test pattern (VP8, no simulcast) at WxH@FPS, encrypted
the way Element Call does (per-participant keys, HKDF, salt "LKFrameEncryptionKey"; the same
options as tests/livekit/lk_peer.py), and subscribes to nothing: its only job is to be the same
K publishers for both receivers under test.

Usage (with the venv python of scripts/setup-peers.sh):
  lk_bench_publisher.py --url WS --token JWT --key HEX[@INDEX] [--hz 440] [--size 160x120] [--fps 15]
                        [--kbps N]   max video bitrate (default 150 up to 320x240, else 1000)

stdin, one command per line: "key IDENTITY HEX INDEX" (our own identity: encrypt with INDEX from
now on), "leave". stdout: {"event":"joined"|"published"|"key_set"|"error"|"left", ...} lines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import threading
import time

import numpy as np
from livekit import rtc
from livekit.rtc._proto import e2ee_pb2 as proto_e2ee

SAMPLE_RATE = 48_000
FRAME_SAMPLES = SAMPLE_RATE // 100


def emit(event: str, **fields) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields, "t": int(time.time() * 1000)}) + "\n")
    sys.stdout.flush()


async def tone(source: rtc.AudioSource, hz: float) -> None:
    step = 2 * math.pi * hz / SAMPLE_RATE
    n = np.arange(FRAME_SAMPLES)
    phase, start, sent = 0.0, time.monotonic(), 0
    while True:
        samples = (0.3 * 32767 * np.sin(phase + step * n)).astype(np.int16)
        phase = (phase + step * FRAME_SAMPLES) % (2 * math.pi)
        await source.capture_frame(rtc.AudioFrame(samples.tobytes(), SAMPLE_RATE, 1, FRAME_SAMPLES))
        sent += 1
        delay = start + sent * 0.01 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


async def pattern(source: rtc.VideoSource, width: int, height: int, fps: int) -> None:
    # As lk_peer.py: a gradient with a white bar moving across, so every frame differs.
    base = np.zeros((height, width, 4), dtype=np.uint8)
    base[:, :, 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    base[:, :, 1] = np.linspace(0, 255, height, dtype=np.uint8)[:, None]
    base[:, :, 2] = 128
    base[:, :, 3] = 255
    bar = max(width // 16, 2)
    start, n = time.monotonic(), 0
    while True:
        frame = base.copy()
        x = (n * 8) % width
        frame[:, x : x + bar, :3] = 255
        source.capture_frame(rtc.VideoFrame(width, height, rtc.VideoBufferType.RGBA, frame.tobytes()))
        n += 1
        delay = start + n / fps - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


def _enum_value(field: str, name: str) -> int:
    return rtc.TrackPublishOptions.DESCRIPTOR.fields_by_name[field].enum_type.values_by_name[name].number


async def run(args: argparse.Namespace) -> int:
    room = rtc.Room()
    options = rtc.RoomOptions(auto_subscribe=False)
    options.encryption = rtc.E2EEOptions(
        key_provider_options=rtc.KeyProviderOptions(
            shared_key=None, ratchet_salt=b"LKFrameEncryptionKey", ratchet_window_size=10,
            failure_tolerance=10, key_ring_size=256,
            key_derivation_function=proto_e2ee.KeyDerivationFunction.HKDF),
        encryption_type=proto_e2ee.EncryptionType.GCM)
    try:
        await asyncio.wait_for(room.connect(args.url, args.token, options), 30)
    except Exception as e:
        emit("error", message=f"connect failed: {e}")
        return 1
    me = room.local_participant.identity
    done = asyncio.Event()

    def set_key(identity: str, key: bytes, index: int) -> None:
        room.e2ee_manager.key_provider.set_key(identity, key, index)
        if identity == me:
            for cryptor in room.e2ee_manager.frame_cryptors():
                if cryptor.participant_identity == me:
                    cryptor.set_key_index(index)
        emit("key_set", identity=identity, index=index)

    hex_key, _, index = args.key.partition("@")
    set_key(me, bytes.fromhex(hex_key), int(index or 0))  # before publishing: no key, no frames
    emit("joined", identity=me)

    loop = asyncio.get_running_loop()

    def command(line: str) -> None:
        w = line.split()
        try:
            if len(w) == 4 and w[0] == "key":
                set_key(w[1], bytes.fromhex(w[2]), int(w[3]))
            elif w and w[0] == "leave":
                done.set()
        except Exception as e:
            emit("error", message=f"{line.strip()}: {e}")

    def read_stdin() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(command, line)

    threading.Thread(target=read_stdin, daemon=True).start()
    tasks = []
    audio = rtc.AudioSource(SAMPLE_RATE, 1)
    await room.local_participant.publish_track(
        rtc.LocalAudioTrack.create_audio_track("tone", audio),
        rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE, red=False, dtx=False))
    tasks.append(asyncio.ensure_future(tone(audio, args.hz)))
    width, height = (int(v) for v in args.size.lower().split("x"))
    video = rtc.VideoSource(width, height)
    await room.local_participant.publish_track(
        rtc.LocalVideoTrack.create_video_track("pattern", video),
        rtc.TrackPublishOptions(
            source=rtc.TrackSource.SOURCE_CAMERA, red=False, simulcast=False, video_codec=rtc.VideoCodec.VP8,
            video_encoding=rtc.VideoEncoding(max_framerate=args.fps, max_bitrate=args.kbps * 1000),
            # The same frames for the whole run: no CPU- or bandwidth-driven resolution/frame-rate drops.
            degradation_preference=_enum_value(
                "degradation_preference", "DEGRADATION_PREFERENCE_MAINTAIN_FRAMERATE_AND_RESOLUTION")))
    tasks.append(asyncio.ensure_future(pattern(video, width, height, args.fps)))
    emit("published", width=width, height=height, fps=args.fps)
    await done.wait()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await room.disconnect()
    emit("left")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--key", required=True, metavar="HEX[@INDEX]", help="our own media key")
    ap.add_argument("--hz", type=float, default=440.0)
    ap.add_argument("--size", default="160x120")
    ap.add_argument("--fps", type=int, default=15)
    ap.add_argument("--kbps", type=int, default=0, help="max video bitrate (default: by size)")
    args = ap.parse_args()
    if not args.kbps:
        w, h = (int(v) for v in args.size.lower().split("x"))
        args.kbps = 150 if w * h <= 320 * 240 else 1000

    async def go() -> int:
        return await run(args)

    return asyncio.run(go())


if __name__ == "__main__":
    sys.exit(main())
