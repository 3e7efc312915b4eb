/*
 * The join unit's ExecStartPre that copies the restore tool out of the etcd image, run through /bin/sh as
 * systemd would (after its `$$` → `$` unescaping), with a docker stub and the paths moved into a temp dir.
 * The success path also runs under a real systemd in test/systemd/first-boot.test.ts.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RESTORE_TOOL_DIR, restoreToolCopy } from '../../lib/ignition';

const IMAGE = 'quay.io/coreos/etcd:v3.5.26';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'restore-tool-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A docker stub: `create` prints an id, `cp` copies from an "image" dir, every call is logged. */
function stub(imageFiles: Record<string, string>): string {
  const image = path.join(tmp, 'image');
  for (const [f, text] of Object.entries(imageFiles)) {
    fs.mkdirSync(path.dirname(path.join(image, f)), { recursive: true });
    fs.writeFileSync(path.join(image, f), text);
  }
  const docker = path.join(tmp, 'docker');
  fs.writeFileSync(
    docker,
    [
      '#!/bin/sh',
      `echo "$*" >> ${tmp}/calls`,
      'case "$1" in',
      '  create) echo c0ffee ;;',
      `  cp) src=\${2#c0ffee:}; [ -f "${image}$src" ] || { echo "no $src" >&2; exit 1; }; cp "${image}$src" "$3" ;;`,
      'esac',
    ].join('\n'),
    { mode: 0o755 },
  );
  return docker;
}

/** The unit's command with systemd's escaping undone and the host paths moved into tmp. */
function run(docker: string): { status: number | null; stderr: string } {
  const line = restoreToolCopy(IMAGE)
    .replace(/\$\$/g, '$')
    .replace(/\/usr\/bin\/docker/g, docker)
    .split(RESTORE_TOOL_DIR)
    .join(path.join(tmp, 'opt'));
  const m = /^\/bin\/sh -c '(.*)'$/.exec(line);
  expect(m).not.toBeNull();
  const r = spawnSync('/bin/sh', ['-c', m![1]], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

const calls = () => fs.readFileSync(path.join(tmp, 'calls'), 'utf8').trim().split('\n');

const BOTH = { '/usr/local/bin/etcdutl': 'ETCDUTL', '/usr/local/bin/etcd': 'ETCD' };

test('copies etcdutl and etcd out of the image, executable, and removes the container', () => {
  const r = run(stub(BOTH));
  expect(r.status).toBe(0);
  const tool = path.join(tmp, 'opt', 'etcdutl');
  const etcd = path.join(tmp, 'opt', 'etcd');
  expect(fs.readFileSync(tool, 'utf8')).toBe('ETCDUTL');
  expect(fs.readFileSync(etcd, 'utf8')).toBe('ETCD');
  for (const f of [tool, etcd]) {
    expect(fs.statSync(f).mode & 0o777).toBe(0o755);
    expect(fs.existsSync(`${f}.tmp`)).toBe(false);
  }
  expect(calls()).toEqual([
    `create --entrypoint /usr/local/bin/etcd ${IMAGE}`,
    `cp c0ffee:/usr/local/bin/etcdutl ${tool}.tmp`,
    `cp c0ffee:/usr/local/bin/etcd ${etcd}.tmp`,
    'rm c0ffee',
  ]);
});

test('once per instance: a second run does nothing', () => {
  const docker = stub(BOTH);
  expect(run(docker).status).toBe(0);
  expect(run(docker).status).toBe(0);
  expect(calls()).toHaveLength(4);
});

test('an image without the tool fails the step (and so the join), leaves no file, removes the container', () => {
  const r = run(stub({ '/usr/local/bin/etcd': 'ETCD' }));
  expect(r.status).not.toBe(0);
  expect(r.stderr).toContain('no /usr/local/bin/etcdutl');
  expect(fs.readdirSync(path.join(tmp, 'opt'))).toEqual([]);
  expect(calls()[2]).toBe('rm c0ffee');
});

test('an image without etcd fails the step too, leaves no file, removes the container', () => {
  const r = run(stub({ '/usr/local/bin/etcdutl': 'ETCDUTL' }));
  expect(r.status).not.toBe(0);
  expect(r.stderr).toContain('no /usr/local/bin/etcd');
  expect(fs.readdirSync(path.join(tmp, 'opt'))).toEqual([]);
  expect(calls()[3]).toBe('rm c0ffee');
});
