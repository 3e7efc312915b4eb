/* The example app's stack: renders offline, and cdk-nag (AwsSolutions) has no unacknowledged finding. */
import { App, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { EtcdExampleStack, EXAMPLE_FALLBACK_AMIS } from '../../bin/example-stack';

describe('example stack', () => {
  test('environment-agnostic: renders the whole template with the placeholder AMI map and a warning', () => {
    const app = new App();
    const stack = new EtcdExampleStack(app, 'EtcdExampleStack');
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 1);
    template.resourceCountIs('AWS::EC2::FlowLog', 1);
    template.hasMapping('*', { 'us-east-1': { ami: EXAMPLE_FALLBACK_AMIS['us-east-1'] } });
    Annotations.fromStack(stack).hasWarning(
      '/EtcdExampleStack',
      Match.stringLikeRegexp('placeholder map EXAMPLE_FALLBACK_AMIS'),
    );
    template.hasOutput('AutoScalingGroupName', { Value: stack.cluster.autoScalingGroupName });
  });

  test('with an env it looks the AMI up and needs no fallback', () => {
    const app = new App();
    const stack = new EtcdExampleStack(app, 'EtcdExampleStack', {
      env: { account: '123456789012', region: 'eu-west-1' },
    });
    Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('placeholder map'));
    expect((app.synth().manifest.missing ?? []).map((m) => m.provider)).toContain('ami');
  });

  test('an existing VPC by id (context vpcId) is looked up', () => {
    const app = new App();
    const stack = new EtcdExampleStack(app, 'EtcdExampleStack', {
      env: { account: '123456789012', region: 'eu-west-1' },
      vpcId: 'vpc-12345',
    });
    Template.fromStack(stack).resourceCountIs('AWS::EC2::VPC', 0);
    expect((app.synth().manifest.missing ?? []).map((m) => m.provider)).toContain('vpc-provider');
  });

  test.each([
    ['environment-agnostic', undefined],
    ['with an env', { account: '123456789012', region: 'eu-west-1' }],
  ])('cdk-nag AwsSolutions: zero unacknowledged findings (%s)', (_name, env) => {
    const app = new App();
    const stack = new EtcdExampleStack(app, 'EtcdExampleStack', { env });
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(
      report.violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath)}`),
    ).toEqual([]);
    expect(report.success).toBe(true);
    // cdk-nag 3 reports through the validation report, not annotations: none there either.
    const annotations = Annotations.fromStack(stack);
    expect(annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-.*'))).toEqual([]);
    expect(annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*'))).toEqual([]);
  });

  test('the app wiring (Validations plugin, as bin/app.ts does) synthesizes without a nag failure', () => {
    const app = new App();
    new EtcdExampleStack(app, 'EtcdExampleStack');
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });

  test('each acknowledgement carries a written reason', () => {
    const app = new App();
    const stack = new EtcdExampleStack(app, 'EtcdExampleStack');
    const acks: Record<string, string> = {};
    for (const c of stack.node.findAll()) {
      for (const m of c.node.metadata) {
        if (m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) Object.assign(acks, m.data);
      }
    }
    const nagAcks = Object.entries(acks).filter(([id]) => /AwsSolutions-/.test(id));
    expect(nagAcks.map(([id]) => id.replace(/^annotation::/i, '').replace(/\[.*$/, '')).sort()).toEqual(
      [
        'AwsSolutions-AS3',
        'AwsSolutions-IAM4',
        'AwsSolutions-IAM5',
        'AwsSolutions-IAM5',
        'AwsSolutions-IAM5', // the backup bucket's objects (lib/backup.ts)
        'AwsSolutions-IAM5', // the incremental log's chunks (instance role)
        'AwsSolutions-IAM5', // the incremental log's snapshots (instance role)
        'AwsSolutions-IAM5', // the restore drills' results (instance role)
        'AwsSolutions-L1',
        'AwsSolutions-S1',
        'AwsSolutions-SMG4',
      ].sort(),
    );
    for (const [, reason] of nagAcks) expect(reason.length).toBeGreaterThan(30);
  });
});
