"""A reference LiveKit participant on the LiveKit Python SDK (livekit==1.2.0, native libwebrtc).

The other side in mxrtc's LiveKit tests: it joins a room, optionally publishes a sine tone and a
moving test pattern, subscribes to everything, measures what it decodes per remote participant and
reports it as JSON lines on stdout. With --e2ee it encrypts and decrypts the way Element Call does
(per-participant keys, HKDF, salt "LKFrameEncryptionKey"; see spec livekit-client.md §3).

Usage:
  lk_peer.py --url WS --token JWT [--publish-audio HZ] [--publish-video WxH] [--e2ee]
             [--key IDENTITY=HEX[@INDEX]]... [--duration S]

  --key      a raw media key (16 or 32 bytes, hex) for IDENTITY at key index INDEX (default 0);
             give the peer's own identity too: that key encrypts what it publishes.

stdout, one JSON object per line (times are Unix ms in "t"):
  {"event":"joined","identity":...,"room":...}
  {"event":"published","kind":"audio"|"video","sid":...}
  {"event":"participant_connected"|"participant_disconnected","identity":...}
  {"event":"track_subscribed","identity":...,"sid":...,"kind":...,"source":...,"encryption":...,
   "mime":...,"width":...,"height":...}
  {"event":"track_unsubscribed","identity":...,"sid":...,"kind":...}
  {"event":"stats","identity":...,"audio_frames":N,"audio_hz":F|null,"audio_rms":F,
   "video_frames":N,"width":W,"height":H}                     every second per remote participant
  {"event":"e2ee_state","identity":...,"state":"OK"|"DECRYPTION_FAILED"|"MISSING_KEY"|...}
  {"event":"muted"|"unmuted","identity":...,"sid":...,"kind":...}
  {"event":"key_set","identity":...,"index":N}
  {"event":"disconnected","reason":...}
  {"event":"error","message":...}
  {"event":"left"}

stdin, one command per line:
  key IDENTITY HEX INDEX     set (rotate) a key; for our own identity also encrypt with INDEX
  mute audio|video           mute our published track
  unmute audio|video
  leave                      disconnect and exit 0

Exit status: 0 after leave or --duration (stdin EOF only ends the commands); 1 when joining or
publishing failed.
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
FRAME_SAMPLES = SAMPLE_RATE // 100  # 10 ms
TONE_AMPLITUDE = 0.3 * 32767
ANALYSIS_SAMPLES = SAMPLE_RATE // 2  # ~0.5 s windows for the dominant frequency
SILENCE_RMS = 100.0  # int16 RMS below this (about -50 dBFS) is "no tone" (PLC, comfort noise)
VIDEO_FPS = 15


def emit(event: str, **fields) -> None:
    fields = {"event": event, **fields, "t": int(time.time() * 1000)}
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def kind_name(kind) -> str:
    return "audio" if kind == rtc.TrackKind.KIND_AUDIO else "video"


def parse_key(text: str) -> tuple[str, bytes, int]:
    identity, _, rest = text.rpartition("=")
    if not identity:
        raise argparse.ArgumentTypeError(f"--key wants IDENTITY=HEX[@INDEX], got {text!r}")
    hex_key, _, index = rest.partition("@")
    key = bytes.fromhex(hex_key)
    if len(key) not in (16, 32):
        raise argparse.ArgumentTypeError("a key is 16 or 32 bytes")
    return identity, key, int(index) if index else 0


def parse_size(text: str) -> tuple[int, int]:
    w, _, h = text.lower().partition("x")
    return int(w), int(h)


class RemoteStats:
    """What we decode from one remote participant."""

    def __init__(self) -> None:
        self.audio_frames = 0
        self.audio_hz: float | None = None
        self.audio_rms = 0.0
        self.video_frames = 0
        self.width = 0
        self.height = 0
        self._samples: list[np.ndarray] = []
        self._pending = 0

    def add_audio(self, samples: np.ndarray) -> None:
        self.audio_frames += 1
        self._samples.append(samples)
        self._pending += samples.size
        if self._pending < ANALYSIS_SAMPLES:
            return
        window = np.concatenate(self._samples).astype(np.float64)[-ANALYSIS_SAMPLES:]
        self._samples.clear()
        self._pending = 0
        self.audio_rms = float(np.sqrt(np.mean(window**2)))
        if self.audio_rms < SILENCE_RMS:
            self.audio_hz = None
            return
        spectrum = np.abs(np.fft.rfft(window * np.hanning(window.size)))
        spectrum[0] = 0.0
        peak = int(np.argmax(spectrum))
        # Quadratic interpolation around the peak bin (bins are 2 Hz apart for 0.5 s).
        if 0 < peak < spectrum.size - 1:
            a, b, c = spectrum[peak - 1], spectrum[peak], spectrum[peak + 1]
            denom = a - 2 * b + c
            offset = 0.5 * (a - c) / denom if denom != 0 else 0.0
        else:
            offset = 0.0
        self.audio_hz = round((peak + offset) * SAMPLE_RATE / window.size, 1)


class Peer:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.room = rtc.Room()
        self.stats: dict[str, RemoteStats] = {}
        self.tasks: set[asyncio.Task] = set()
        self.audio_track: rtc.LocalAudioTrack | None = None
        self.video_track: rtc.LocalVideoTrack | None = None
        self.done = asyncio.Event()
        self.identity = ""
        self._wire_events()

    # ---- room events -------------------------------------------------------------------------

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _wire_events(self) -> None:
        room = self.room

        @room.on("participant_connected")
        def _on_connected(p: rtc.RemoteParticipant) -> None:
            emit("participant_connected", identity=p.identity)

        @room.on("participant_disconnected")
        def _on_disconnected(p: rtc.RemoteParticipant) -> None:
            emit("participant_disconnected", identity=p.identity)

        @room.on("track_subscribed")
        def _on_subscribed(track: rtc.Track, pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant) -> None:
            emit(
                "track_subscribed",
                identity=p.identity,
                sid=pub.sid,
                kind=kind_name(track.kind),
                source=rtc.TrackSource.Name(pub.source),
                encryption=rtc.EncryptionType.Name(pub.encryption_type),
                mime=pub.mime_type,
                width=pub.width,
                height=pub.height,
            )
            stats = self.stats.setdefault(p.identity, RemoteStats())
            if track.kind == rtc.TrackKind.KIND_AUDIO:
                self._spawn(self._read_audio(track, stats))
            else:
                self._spawn(self._read_video(track, stats))

        @room.on("track_unsubscribed")
        def _on_unsubscribed(track, pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant) -> None:
            emit("track_unsubscribed", identity=p.identity, sid=pub.sid, kind=kind_name(pub.kind))

        @room.on("track_muted")
        def _on_muted(p: rtc.Participant, pub: rtc.TrackPublication) -> None:
            emit("muted", identity=p.identity, sid=pub.sid, kind=kind_name(pub.kind))

        @room.on("track_unmuted")
        def _on_unmuted(p: rtc.Participant, pub: rtc.TrackPublication) -> None:
            emit("unmuted", identity=p.identity, sid=pub.sid, kind=kind_name(pub.kind))

        @room.on("e2ee_state_changed")
        def _on_e2ee(p: rtc.Participant | None, state) -> None:
            emit("e2ee_state", identity=p.identity if p else None, state=rtc.EncryptionState.Name(state))

        @room.on("disconnected")
        def _on_room_disconnected(reason) -> None:
            emit("disconnected", reason=rtc.DisconnectReason.Name(reason) if hasattr(rtc, "DisconnectReason") else reason)
            self.done.set()

    async def _read_audio(self, track: rtc.Track, stats: RemoteStats) -> None:
        stream = rtc.AudioStream(track, sample_rate=SAMPLE_RATE, num_channels=1)
        try:
            async for ev in stream:
                stats.add_audio(np.frombuffer(ev.frame.data, dtype=np.int16))
        finally:
            await stream.aclose()

    async def _read_video(self, track: rtc.Track, stats: RemoteStats) -> None:
        stream = rtc.VideoStream(track)
        try:
            async for ev in stream:
                stats.video_frames += 1
                stats.width, stats.height = ev.frame.width, ev.frame.height
        finally:
            await stream.aclose()

    # ---- publishing --------------------------------------------------------------------------

    async def _tone(self, source: rtc.AudioSource, hz: float) -> None:
        # Paced by the clock (10 ms frames), so the source's queue stays short and mute is prompt.
        step = 2 * math.pi * hz / SAMPLE_RATE
        n = np.arange(FRAME_SAMPLES)
        phase = 0.0
        start = time.monotonic()
        sent = 0
        while True:
            samples = (TONE_AMPLITUDE * np.sin(phase + step * n)).astype(np.int16)
            phase = (phase + step * FRAME_SAMPLES) % (2 * math.pi)
            await source.capture_frame(rtc.AudioFrame(samples.tobytes(), SAMPLE_RATE, 1, FRAME_SAMPLES))
            sent += 1
            delay = start + sent * 0.01 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    async def _pattern(self, source: rtc.VideoSource, width: int, height: int) -> None:
        # A colour gradient with a white bar moving across: every frame differs, so the encoder
        # keeps sending and a decoder keeps producing frames.
        xs = np.linspace(0, 255, width, dtype=np.uint8)
        ys = np.linspace(0, 255, height, dtype=np.uint8)
        base = np.zeros((height, width, 4), dtype=np.uint8)
        base[:, :, 0] = xs[None, :]
        base[:, :, 1] = ys[:, None]
        base[:, :, 2] = 128
        base[:, :, 3] = 255
        bar = max(width // 16, 2)
        start = time.monotonic()
        n = 0
        while True:
            frame = base.copy()
            x = (n * 8) % width
            frame[:, x : x + bar, :3] = 255
            source.capture_frame(rtc.VideoFrame(width, height, rtc.VideoBufferType.RGBA, frame.tobytes()))
            n += 1
            delay = start + n / VIDEO_FPS - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    async def publish(self) -> None:
        lp = self.room.local_participant
        if self.args.publish_audio:
            source = rtc.AudioSource(SAMPLE_RATE, 1)
            self.audio_track = rtc.LocalAudioTrack.create_audio_track("tone", source)
            pub = await lp.publish_track(
                self.audio_track,
                rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE, red=False, dtx=False),
            )
            emit("published", kind="audio", sid=pub.sid, hz=self.args.publish_audio)
            self._spawn(self._tone(source, self.args.publish_audio))
        if self.args.publish_video:
            width, height = self.args.publish_video
            source = rtc.VideoSource(width, height)
            self.video_track = rtc.LocalVideoTrack.create_video_track("pattern", source)
            pub = await lp.publish_track(
                self.video_track,
                rtc.TrackPublishOptions(
                    source=rtc.TrackSource.SOURCE_CAMERA,
                    red=False,
                    simulcast=False,
                    video_codec=rtc.VideoCodec.VP8,
                ),
            )
            emit("published", kind="video", sid=pub.sid, width=width, height=height)
            self._spawn(self._pattern(source, width, height))

    # ---- keys and commands -------------------------------------------------------------------

    def set_key(self, identity: str, key: bytes, index: int) -> None:
        manager = self.room.e2ee_manager
        if not self.args.e2ee or manager is None or manager.key_provider is None:
            emit("error", message="key given but the peer runs without --e2ee")
            return
        manager.key_provider.set_key(identity, key, index)
        if identity == self.identity:
            # Encrypt what we publish with the newest own key.
            for cryptor in manager.frame_cryptors():
                if cryptor.participant_identity == identity:
                    cryptor.set_key_index(index)
        emit("key_set", identity=identity, index=index)

    def command(self, line: str) -> None:
        words = line.split()
        if not words:
            return
        try:
            if words[0] == "key" and len(words) == 4:
                self.set_key(words[1], bytes.fromhex(words[2]), int(words[3]))
            elif words[0] in ("mute", "unmute") and len(words) == 2 and words[1] in ("audio", "video"):
                track = self.audio_track if words[1] == "audio" else self.video_track
                if track is None:
                    emit("error", message=f"no {words[1]} track to {words[0]}")
                elif words[0] == "mute":
                    track.mute()
                else:
                    track.unmute()
            elif words[0] == "leave":
                self.done.set()
            else:
                emit("error", message=f"unknown command: {line.strip()}")
        except Exception as e:  # one bad command must not end the peer
            emit("error", message=f"{words[0]}: {e}")

    def read_stdin(self, loop: asyncio.AbstractEventLoop) -> None:
        # A thread: stdin may be a pipe, a socket or /dev/null. EOF only ends the commands (the
        # test harness kills its peers itself, also when it dies: PR_SET_PDEATHSIG).
        for line in sys.stdin:
            loop.call_soon_threadsafe(self.command, line)

    async def report(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            for identity, s in list(self.stats.items()):
                emit(
                    "stats",
                    identity=identity,
                    audio_frames=s.audio_frames,
                    audio_hz=s.audio_hz,
                    audio_rms=round(s.audio_rms, 1),
                    video_frames=s.video_frames,
                    width=s.width,
                    height=s.height,
                )

    # ---- main --------------------------------------------------------------------------------

    async def run(self) -> int:
        options = rtc.RoomOptions(auto_subscribe=True)
        if self.args.e2ee:
            options.encryption = rtc.E2EEOptions(
                key_provider_options=rtc.KeyProviderOptions(
                    shared_key=None,  # per-participant keys
                    ratchet_salt=b"LKFrameEncryptionKey",
                    ratchet_window_size=10,
                    failure_tolerance=10,
                    key_ring_size=256,
                    key_derivation_function=proto_e2ee.KeyDerivationFunction.HKDF,
                ),
                encryption_type=proto_e2ee.EncryptionType.GCM,
            )
        try:
            await asyncio.wait_for(self.room.connect(self.args.url, self.args.token, options), 30)
        except Exception as e:
            emit("error", message=f"connect failed: {e}")
            return 1
        self.identity = self.room.local_participant.identity
        # Keys before publishing: the sender drops frames it has no key for.
        for identity, key, index in self.args.key:
            self.set_key(identity, key, index)
        emit("joined", identity=self.identity, room=self.room.name)
        for p in self.room.remote_participants.values():
            emit("participant_connected", identity=p.identity)

        loop = asyncio.get_running_loop()
        threading.Thread(target=self.read_stdin, args=(loop,), daemon=True).start()
        try:
            await self.publish()
        except Exception as e:
            emit("error", message=f"publish failed: {e}")
            await self.room.disconnect()
            return 1
        self._spawn(self.report())
        try:
            if self.args.duration:
                await asyncio.wait_for(self.done.wait(), self.args.duration)
            else:
                await self.done.wait()
        except asyncio.TimeoutError:
            pass
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.room.disconnect()
        emit("left")
        return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--publish-audio", type=float, metavar="HZ")
    parser.add_argument("--publish-video", type=parse_size, metavar="WxH")
    parser.add_argument("--e2ee", action="store_true")
    parser.add_argument("--key", type=parse_key, action="append", default=[], metavar="IDENTITY=HEX[@INDEX]")
    parser.add_argument("--duration", type=float, metavar="S")
    args = parser.parse_args()
    if args.key and not args.e2ee:
        parser.error("--key needs --e2ee")
    async def run() -> int:
        return await Peer(args).run()  # the SDK's objects want a running loop

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
