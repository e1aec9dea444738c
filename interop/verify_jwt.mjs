// verify_jwt.mjs: checks LiveKit access tokens with livekit-server-sdk's own TokenVerifier (the
// code LiveKit's Node server SDK uses), so mxrtc-auth's JWTs are validated by a reference
// implementation rather than by our own decoder.
//
// stdin:  {"jwt": "...", "key": "<api key>", "secret": "<api secret>"}
// stdout: {"ok": true, "claims": {...}}  or  {"ok": false, "error": "..."}   (exit 0 either way;
//         exit 2 on unusable input)
import { TokenVerifier } from 'livekit-server-sdk';

let input = '';
process.stdin.setEncoding('utf8');
for await (const chunk of process.stdin) input += chunk;

let req;
try {
  req = JSON.parse(input);
} catch (e) {
  console.error('verify_jwt: stdin is not JSON');
  process.exit(2);
}
try {
  const claims = await new TokenVerifier(req.key, req.secret).verify(req.jwt);
  process.stdout.write(JSON.stringify({ ok: true, claims }) + '\n');
} catch (e) {
  process.stdout.write(JSON.stringify({ ok: false, error: String(e && e.message ? e.message : e) }) + '\n');
}
