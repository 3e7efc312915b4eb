/* The supervisor's control channel: one JSON request and one JSON reply per connection on a unix socket. */
import * as net from 'net';
import * as path from 'path';

export interface Request {
  readonly cmd: string;
  readonly args?: Record<string, unknown>;
}
export interface Reply {
  readonly ok: boolean;
  readonly error?: string;
  readonly data?: unknown;
}

export function socketPath(dir: string): string {
  return path.join(dir, 'supervisor.sock');
}

export function serve(dir: string, handle: (req: Request) => Promise<unknown>): net.Server {
  const server = net.createServer((sock) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (chunk) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      let req: Request;
      try {
        req = JSON.parse(line) as Request;
      } catch {
        sock.end(JSON.stringify({ ok: false, error: 'malformed request' }) + '\n');
        return;
      }
      handle(req).then(
        (data) => sock.end(JSON.stringify({ ok: true, data }) + '\n'),
        (err: Error) => sock.end(JSON.stringify({ ok: false, error: err.message }) + '\n'),
      );
    });
    sock.on('error', () => undefined);
  });
  server.listen(socketPath(dir));
  return server;
}

export function call(dir: string, req: Request, timeoutMs = 30 * 60_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(socketPath(dir));
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no reply from the fleet supervisor within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify(req) + '\n'));
    sock.on('data', (c) => (buf += c));
    sock.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(buf) as Reply);
      } catch {
        reject(new Error('malformed reply from the fleet supervisor'));
      }
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
