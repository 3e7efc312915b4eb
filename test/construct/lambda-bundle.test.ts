/* The lifecycle Lambda's bundle (built by test/global-setup.js) loads and answers with the construct's environment. */
import * as path from 'path';
import { LAMBDA_BUNDLE_DIR } from '../../lib/assets';
import { makeCluster, resolveIntrinsics } from './helpers';

describe('lifecycle Lambda bundle', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  test('build/lambda/index.js exports the handler the construct names', () => {
    const mod = require(path.join(LAMBDA_BUNDLE_DIR, 'index.js'));
    const { template } = makeCluster();
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0];
    const [file, exported] = fn.Properties.Handler.split('.');
    expect(file).toBe('index');
    expect(typeof mod[exported]).toBe('function');
  });

  test('the handler accepts the construct environment and ignores a foreign event without any I/O', async () => {
    const { handler } = require(path.join(LAMBDA_BUNDLE_DIR, 'index.js'));
    const { template } = makeCluster();
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0];
    // References (the backup bucket's name) become plain strings, as Lambda sees them.
    const vars = Object.entries(fn.Properties.Environment.Variables as Record<string, unknown>).map(
      ([k, v]) => [k, resolveIntrinsics(v)] as const,
    );
    Object.assign(process.env, Object.fromEntries(vars), { AWS_REGION: 'us-east-1' });
    const result = await handler({ source: 'aws.ec2', 'detail-type': 'Something else', detail: {} });
    expect(result).toEqual(expect.objectContaining({ ok: true }));
    expect(result.kind).not.toBe('config');
  });
});
