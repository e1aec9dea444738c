#!/usr/bin/env node
// Writes tests/vectors/livekit/signal_golden.json: LiveKit signal messages encoded by an encoder
// that is not ours, @livekit/protocol (LiveKit's generated protobuf-es code, version pinned in
// interop/package.json). tests/unit/livekit/codec_test.cpp builds the same values with mxrtc's
// codec and checks the bytes both ways.
//
// Run once after changing a vector (the output is committed; tests do not run Node):
//   node interop/livekit_signal_vectors.mjs > tests/vectors/livekit/signal_golden.json
//
// "exact" vectors hold only fields our schema declares: our encoder must produce the same bytes.
// "decode_only" vectors also hold fields and oneof cases our schema leaves out, as a newer or real
// server sends them: we must decode them to the expected value (and ignore the rest).

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  AddTrackRequest,
  AudioTrackFeature,
  ClientConfigSetting,
  ClientConfiguration,
  Codec,
  ConnectionQuality,
  ConnectionQualityInfo,
  ConnectionQualityUpdate,
  DisconnectReason,
  Encryption_Type,
  ICEServer,
  JoinResponse,
  LeaveRequest,
  LeaveRequest_Action,
  MuteTrackRequest,
  ParticipantInfo,
  ParticipantInfo_Kind,
  ParticipantInfo_State,
  ParticipantPermission,
  Ping,
  RequestResponse,
  RequestResponse_Reason,
  Room,
  ServerInfo,
  ServerInfo_Edition,
  SessionDescription,
  SignalRequest,
  SignalResponse,
  SignalTarget,
  SpeakerInfo,
  SpeakersChanged,
  SyncState,
  TrackInfo,
  TrackPublishedResponse,
  TrackSource,
  TrackType,
  TrickleRequest,
  UpdateSubscription,
  VideoLayer,
  VideoQuality,
} from '@livekit/protocol';

const here = dirname(fileURLToPath(import.meta.url));
const versionOf = (pkg) => JSON.parse(readFileSync(join(here, 'node_modules', pkg, 'package.json'), 'utf8')).version;
const protocolVersion = versionOf('@livekit/protocol');
const protobufEsVersion = versionOf('@bufbuild/protobuf');

const hex = (bytes) => Buffer.from(bytes).toString('hex');
const fromHex = (text) => new Uint8Array(Buffer.from(text, 'hex'));

// ---- shared values (codec_test.cpp mirrors these) ----------------------------------------------

const bobMicrophone = () =>
  new TrackInfo({
    sid: 'TR_AMkGrVh2Q8pM4k',
    type: TrackType.AUDIO,
    name: 'microphone',
    source: TrackSource.MICROPHONE,
    mimeType: 'audio/opus',
    mid: '0',
    disableRed: true,
    encryption: Encryption_Type.GCM,
    stream: 'camera',
  });

const bobCamera = () =>
  new TrackInfo({
    sid: 'TR_VCpTj8zuG6wmKb',
    type: TrackType.VIDEO,
    name: 'camera',
    muted: true,
    width: 1280,
    height: 720,
    source: TrackSource.CAMERA,
    mimeType: 'video/VP8',
    mid: '1',
    encryption: Encryption_Type.GCM,
    stream: 'camera',
  });

const alice = () =>
  new ParticipantInfo({
    sid: 'PA_8sJpqLbJ6wzA',
    identity: '@alice:example.org:ALICEDEVICE',
    state: ParticipantInfo_State.JOINING,
    name: 'Alice',
    version: 1,
    joinedAtMs: 1754500000123n,
  });

const bob = () =>
  new ParticipantInfo({
    sid: 'PA_Vu2cSnd4mfh7',
    identity: '@bob:example.org:BOBDEVICE',
    state: ParticipantInfo_State.ACTIVE,
    tracks: [bobMicrophone(), bobCamera()],
    name: 'Bob',
    version: 7,
    isPublisher: true,
    joinedAtMs: 1754499990456n,
  });

const joinResponse = () =>
  new JoinResponse({
    room: new Room({ sid: 'RM_kq3VvXbS9tYc', name: 'o9ZCbv4n1qbnvmJCzOBhUSLxeJwFjzgI7jpU5Rfjp3E' }),
    participant: alice(),
    otherParticipants: [bob()],
    iceServers: [
      new ICEServer({
        urls: ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:5349?transport=tcp'],
        username: '1754586400:PA_8sJpqLbJ6wzA',
        credential: 'dGhpcy1pcy1hLXR1cm4tY3JlZGVudGlhbA==',
      }),
    ],
    subscriberPrimary: true,
    pingTimeout: 15,
    pingInterval: 5,
    serverInfo: new ServerInfo({ version: '1.13.5', protocol: 17, region: 'local', nodeId: 'ND_ZhkQ8g4DUxyB' }),
    sifTrailer: fromHex('c84e0d6ad2a1f3b7'),
    enabledPublishCodecs: [
      new Codec({ mime: 'audio/opus' }),
      new Codec({ mime: 'video/VP8' }),
      new Codec({ mime: 'video/H264', fmtpLine: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f' }),
    ],
    fastPublish: true,
  });

const videoAddTrack = () =>
  new AddTrackRequest({
    cid: 'mxrtc-video-3f9c2a',
    name: 'camera',
    type: TrackType.VIDEO,
    width: 640,
    height: 480,
    source: TrackSource.CAMERA,
    layers: [new VideoLayer({ quality: VideoQuality.HIGH, width: 640, height: 480, bitrate: 700000 })],
    encryption: Encryption_Type.GCM,
    stream: 'camera',
  });

const subscriberAnswerSdp =
  'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n' +
  'm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=recvonly\r\na=rtpmap:111 opus/48000/2\r\n' +
  'm=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=recvonly\r\na=rtpmap:96 VP8/90000\r\n';

// ---- vectors -----------------------------------------------------------------------------------

const vectors = [];
const add = (name, message, mode = 'exact') => {
  vectors.push({ name, type: message.getType().typeName, mode, hex: hex(message.toBinary()), json: message.toJson() });
};
const response = (c, value) => new SignalResponse({ message: { case: c, value } });
const request = (c, value) => new SignalRequest({ message: { case: c, value } });

add('join_response', response('join', joinResponse()));
add(
  'trickle_request',
  request(
    'trickle',
    new TrickleRequest({
      candidateInit:
        '{"candidate":"candidate:2130706431 1 udp 2130706431 127.0.0.1 50123 typ host","sdpMid":"0",' +
        '"sdpMLineIndex":0,"usernameFragment":null}',
      target: SignalTarget.SUBSCRIBER,
    }),
  ),
);
add('trickle_final_request', request('trickle', new TrickleRequest({ target: SignalTarget.PUBLISHER, final: true })));
add('add_track_video_request', request('addTrack', videoAddTrack()));
add(
  'add_track_audio_request',
  request(
    'addTrack',
    new AddTrackRequest({
      cid: 'mxrtc-audio-7d41e0',
      name: 'microphone',
      type: TrackType.AUDIO,
      muted: true,
      source: TrackSource.MICROPHONE,
      disableRed: true,
      encryption: Encryption_Type.GCM,
      audioFeatures: [AudioTrackFeature.TF_NO_DTX, AudioTrackFeature.TF_ECHO_CANCELLATION],
    }),
  ),
);
add(
  'answer_request',
  request(
    'answer',
    new SessionDescription({
      type: 'answer',
      sdp: subscriberAnswerSdp,
      id: 3,
      midToTrackId: { 0: 'TR_AMkGrVh2Q8pM4k', 1: 'TR_VCpTj8zuG6wmKb' },
    }),
  ),
);
add('ping_req_request', request('pingReq', new Ping({ timestamp: 1754500012345n, rtt: 42n })));
add('ping_request', request('ping', 1754500012345n));
add(
  'leave_request',
  request('leave', new LeaveRequest({ reason: DisconnectReason.CLIENT_INITIATED, action: LeaveRequest_Action.DISCONNECT })),
);
add(
  'sync_state_request',
  request(
    'syncState',
    new SyncState({
      answer: new SessionDescription({ type: 'answer', sdp: subscriberAnswerSdp, id: 3 }),
      subscription: new UpdateSubscription({ trackSids: ['TR_AMkGrVh2Q8pM4k', 'TR_VCpTj8zuG6wmKb'], subscribe: true }),
      publishTracks: [new TrackPublishedResponse({ cid: 'mxrtc-audio-7d41e0', track: bobMicrophone() })],
    }),
  ),
);
add('mute_request', request('mute', new MuteTrackRequest({ sid: 'TR_AMkGrVh2Q8pM4k', muted: true })));
add(
  'track_published_response',
  response('trackPublished', new TrackPublishedResponse({ cid: 'mxrtc-video-3f9c2a', track: bobCamera() })),
);
add(
  'request_response',
  response(
    'requestResponse',
    new RequestResponse({
      requestId: 0,
      reason: RequestResponse_Reason.NOT_ALLOWED,
      message: 'does not have permission to publish',
      request: { case: 'addTrack', value: videoAddTrack() },
    }),
  ),
);
add(
  'leave_response',
  response(
    'leave',
    new LeaveRequest({ canReconnect: true, reason: DisconnectReason.STATE_MISMATCH, action: LeaveRequest_Action.RECONNECT }),
  ),
);
add('refresh_token_response', response('refreshToken', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl'));

// A JoinResponse as livekit-server fills it: fields our schema leaves out must be skipped.
const fullJoin = joinResponse();
fullJoin.serverVersion = '1.13.5';
fullJoin.serverRegion = 'local';
fullJoin.clientConfiguration = new ClientConfiguration({ resumeConnection: ClientConfigSetting.ENABLED });
fullJoin.room.emptyTimeout = 300;
fullJoin.room.creationTime = 1754499990n;
fullJoin.room.numParticipants = 2;
fullJoin.participant.permission = new ParticipantPermission({ canSubscribe: true, canPublish: true, canPublishData: true });
fullJoin.participant.kind = ParticipantInfo_Kind.STANDARD;
fullJoin.participant.attributes = { 'm.call': 'yes' };
fullJoin.participant.joinedAt = 1754500000n;
fullJoin.serverInfo.edition = ServerInfo_Edition.Standard;
fullJoin.serverInfo.agentProtocol = 1;
add('join_response_full', response('join', fullJoin), 'decode_only');
// Oneof cases our schema leaves out: UnhandledResponse{10} and {12}.
add(
  'speakers_changed_response',
  response('speakersChanged', new SpeakersChanged({ speakers: [new SpeakerInfo({ sid: 'PA_Vu2cSnd4mfh7', level: 0.5, active: true })] })),
  'decode_only',
);
add(
  'connection_quality_response',
  response(
    'connectionQuality',
    new ConnectionQualityUpdate({
      updates: [new ConnectionQualityInfo({ participantSid: 'PA_8sJpqLbJ6wzA', quality: ConnectionQuality.EXCELLENT, score: 4.5 })],
    }),
  ),
  'decode_only',
);

process.stdout.write(
  JSON.stringify(
    {
      description:
        `LiveKit signal messages encoded by @livekit/protocol ${protocolVersion} (protobuf-es ${protobufEsVersion}), ` +
        'generated by interop/livekit_signal_vectors.mjs. exact: mxrtc must encode the value to these bytes and ' +
        'decode them back; decode_only: the bytes also carry fields or oneof cases mxrtc leaves out. json is the ' +
        'protobuf-es JSON form, for reading.',
      vectors,
    },
    null,
    2,
  ) + '\n',
);
