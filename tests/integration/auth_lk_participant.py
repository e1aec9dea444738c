"""A real LiveKit participant for tests/integration/auth_delegation_test.cpp.

Usage: python auth_lk_participant.py WS_URL JWT LEAVE_FILE
Joins the room with the JWT (livekit rtc SDK: real signalling + WebRTC transport), prints
"joined <identity> <unix ms>", waits until LEAVE_FILE exists, disconnects and prints
"left <unix ms>" (the moment the SDK reported the disconnect done). Exit status 0 on success.
"""
import asyncio
import os
import sys
import time

from livekit import rtc


def now_ms() -> int:
    return int(time.time() * 1000)


async def main() -> int:
    url, token, leave_file = sys.argv[1:4]
    room = rtc.Room()
    await asyncio.wait_for(room.connect(url, token, rtc.RoomOptions(auto_subscribe=False)), 30)
    print("joined", room.local_participant.identity, now_ms(), flush=True)
    while not os.path.exists(leave_file):
        await asyncio.sleep(0.02)
    await room.disconnect()
    print("left", now_ms(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
