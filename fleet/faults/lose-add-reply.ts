/*
 * FAILURE-SCENARIOS 3, injected by the fleet into one agent process: the agent's member add reaches etcd and
 * commits, and its reply is lost. The fleet loads this file with `node --require` before the agent bundle
 * (fleet/faults/index.ts), so the production agent carries no test fault.
 *
 * It wraps http2.connect, the transport of the agent's gRPC client (etcd3 on @grpc/grpc-js), and on the first
 * /etcdserverpb.Cluster/MemberAdd call of the process swallows everything the server sends back (headers,
 * message, trailers, end of stream). etcd replies only once it applied the add, so the add is committed, and
 * the client sees a stream that closed without a reply (gRPC INTERNAL "Call ended without gRPC status"), as
 * when a connection drops the reply. One JSON line on stderr (the agent log) per MemberAdd the agent sends,
 * and one for the reply dropped.
 */
import http2 = require('http2');

const MEMBER_ADD = '/etcdserverpb.Cluster/MemberAdd';
/** The stream events that carry the reply; 'close' and 'error' still reach the client. */
const REPLY_EVENTS = new Set<string | symbol>(['response', 'data', 'trailers', 'end']);

let adds = 0;

function log(message: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(JSON.stringify({ time: new Date().toISOString(), message, ...fields }) + '\n');
}

function dropReply(stream: http2.ClientHttp2Stream): void {
  const emit = stream.emit;
  let logged = false;
  stream.emit = function (
    this: http2.ClientHttp2Stream,
    event: string | symbol,
    ...args: unknown[]
  ): boolean {
    if (!REPLY_EVENTS.has(event)) return emit.call(this, event, ...args);
    if (!logged) {
      logged = true;
      log('simulated: member add reply lost', {
        fault: 'lose-add-reply',
        reason: 'etcd answered the MemberAdd (the add is committed); the reply is dropped before the client',
      });
    }
    return true;
  } as typeof stream.emit;
}

const connect = http2.connect;
(http2 as unknown as { connect: typeof http2.connect }).connect = function (
  this: unknown,
  ...args: Parameters<typeof http2.connect>
): http2.ClientHttp2Session {
  const session = connect.apply(this, args);
  const request = session.request;
  session.request = function (this: http2.ClientHttp2Session, headers, options) {
    const stream = request.call(this, headers, options);
    if (
      headers &&
      !Array.isArray(headers) &&
      (headers as http2.OutgoingHttpHeaders)[':path'] === MEMBER_ADD
    ) {
      adds++;
      log('fault: MemberAdd sent', { fault: 'lose-add-reply', add: adds, replyDropped: adds === 1 });
      if (adds === 1) dropReply(stream);
    }
    return stream;
  } as typeof session.request;
  return session;
} as typeof http2.connect;
