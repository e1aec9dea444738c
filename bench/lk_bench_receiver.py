"""tests/livekit/lk_peer.py for bench/livekit_cpu.py: the same peer, plus its frame readers end
when their track is unsubscribed.

lk_peer.py starts an AudioStream/VideoStream reader per subscribed track and lets it run until the
peer exits. That is fine for the tests, whose publishers never come back; here publishers leave and
join between phases, and libwebrtc reuses the subscriber's transceivers (and their receiver tracks)
for the new publications, so a reader of a gone track keeps being fed with a newer track's frames:
each rejoin would add one more copy of the per-frame Python work (and count every frame twice).
Same command line and output as lk_peer.py.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "livekit"))
import lk_peer  # noqa: E402
from livekit import rtc  # noqa: E402


class Peer(lk_peer.Peer):
    def __init__(self, args) -> None:
        self.readers: dict[str, asyncio.Task] = {}  # track sid -> its reader
        super().__init__(args)

        @self.room.on("track_unsubscribed")
        def _end_reader(track: rtc.Track, pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant) -> None:
            task = self.readers.pop(track.sid, None)
            if task:
                task.cancel()

    async def _read_audio(self, track: rtc.Track, stats: lk_peer.RemoteStats) -> None:
        self.readers[track.sid] = asyncio.current_task()
        await super()._read_audio(track, stats)

    async def _read_video(self, track: rtc.Track, stats: lk_peer.RemoteStats) -> None:
        self.readers[track.sid] = asyncio.current_task()
        await super()._read_video(track, stats)


if __name__ == "__main__":
    lk_peer.Peer = Peer  # main() builds lk_peer.Peer
    sys.exit(lk_peer.main())
