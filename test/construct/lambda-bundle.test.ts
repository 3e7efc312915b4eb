/* The lifecycle Lambda's bundle (built by test/global-setup.js) loads and answers with the construct's environment. */
import * as path from 'path';
import { LAMBDA_BUNDLE_DIR } from '../../lib/assets';
import { Template } from 'aws-cdk-lib/assertions';
import { makeCluster } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function lifecycleFunction(template: Template): any {
  const fns = Object.entries(template.findResources('AWS::Lambda::Function')).filter(([id]) =>
    id.startsWith('EtcdLifecycleFunction'),
  );
  expect(fns).toHaveLength(1);
  return fns[0][1];
}

describe('lifecycle Lambda bundle', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  test('build/lambda/index.js exports the handler the construct names', () => {
    const mod = require(path.join(LAMBDA_BUNDLE_DIR, 'index.js'));
    const { template } = makeCluster();
    const fn = lifecycleFunction(template);
    const [file, exported] = fn.Properties.Handler.split('.');
    expect(file).toBe('index');
    expect(typeof mod[exported]).toBe('function');
  });

  test('the handler accepts the construct environment and ignores a foreign event without any I/O', async () => {
    const { handler } = require(path.join(LAMBDA_BUNDLE_DIR, 'index.js'));
    const { template } = makeCluster();
    const fn = lifecycleFunction(template);
    const vars = fn.Properties.Environment.Variables as Record<string, unknown>;
    // the client identity secret's ARN is a reference in the template; a made-up ARN stands in for it
    for (const [k, v] of Object.entries(vars)) {
      process.env[k] =
        typeof v === 'string' ? v : 'arn:aws:secretsmanager:us-east-1:123456789012:secret:client-AbCdEf';
    }
    process.env.AWS_REGION = 'us-east-1';
    expect(process.env.SCHEME).toBe('https');
    const result = await handler({ source: 'aws.ec2', 'detail-type': 'Something else', detail: {} });
    expect(result).toEqual(expect.objectContaining({ ok: true }));
    expect(result.kind).not.toBe('config');
  });
});
