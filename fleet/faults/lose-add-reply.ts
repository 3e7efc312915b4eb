/*
 * FAILURE-SCENARIOS 3, injected by the fleet into one agent process: the agent's member add reaches etcd and
 * commits, and its reply is lost. The fleet loads this file with `node --require` before the agent bundle
 * (fleet/faults/index.ts), so the production agent carries no test fault.
 *
 * It wraps http2.connect, the transport of the agent's gRPC client (etcd3 on @grpc/grpc-js), and on the first
 * /etcdserverpb.Cluster/MemberAdd call of the process that etcd answers with OK (the add is committed)
 * swallows everything the server sends back (headers, message, trailers, end of stream): the client sees a
 * stream that closed without a reply (gRPC INTERNAL "Call ended without gRPC status"), as when a connection
 * drops the reply. An add that etcd refuses (e.g. "unhealthy cluster" right after a start) reaches the client
 * unchanged and the fault waits for the next one. One JSON line on stderr (the agent log) per MemberAdd the
 * agent sends, and one for each verdict.
 */
import http2 = require('http2');

const MEMBER_ADD = '/etcdserverpb.Cluster/MemberAdd';
/** The stream events that carry the reply; 'close' and 'error' still reach the client. */
const REPLY_EVENTS = new Set<string | symbol>(['response', 'data', 'trailers', 'end']);

let adds = 0;
/** Armed until a MemberAdd succeeded with its reply dropped; an add that etcd refused is passed through. */
let armed = true;

function log(message: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(JSON.stringify({ time: new Date().toISOString(), message, ...fields }) + '\n');
}

type Emitted = [string | symbol, unknown[]];

/**
 * Holds back the reply of one MemberAdd until its gRPC status is known: status 0 (the add is committed) →
 * the whole reply is swallowed and the fault is spent; any other status (e.g. "unhealthy cluster" from
 * etcd's strict reconfiguration check: nothing was added) → the reply is replayed to the client unchanged
 * and the fault stays armed for the next MemberAdd.
 */
function holdReply(stream: http2.ClientHttp2Stream, add: number): void {
  const emit = stream.emit;
  const held: Emitted[] = [];
  let verdict: 'drop' | 'pass' | undefined;
  const decide = (status: unknown) => {
    verdict = String(status) === '0' ? 'drop' : 'pass';
    if (verdict === 'drop') {
      armed = false;
      log('simulated: member add reply lost', {
        fault: 'lose-add-reply',
        add,
        reason:
          'etcd answered the MemberAdd with OK (the add is committed); the reply is dropped before the client',
      });
    } else {
      log('fault: MemberAdd refused by etcd, reply passed through', {
        fault: 'lose-add-reply',
        add,
        grpcStatus: status,
      });
      for (const [event, args] of held.splice(0)) emit.call(stream, event, ...args);
    }
  };
  stream.emit = function (
    this: http2.ClientHttp2Stream,
    event: string | symbol,
    ...args: unknown[]
  ): boolean {
    if (!REPLY_EVENTS.has(event) || verdict === 'pass') return emit.call(this, event, ...args);
    if (verdict === 'drop') return true;
    held.push([event, args]);
    const headers = args[0] as Record<string, unknown> | undefined;
    // The status comes in the trailers, or in the response headers of a trailers-only (error) reply.
    if ((event === 'trailers' || event === 'response') && headers && 'grpc-status' in headers) {
      decide(headers['grpc-status']);
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
      log('fault: MemberAdd sent', { fault: 'lose-add-reply', add: adds, armed });
      if (armed) holdReply(stream, adds);
    }
    return stream;
  } as typeof session.request;
  return session;
} as typeof http2.connect;
