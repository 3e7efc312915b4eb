/* Rendering values that may hold CDK tokens into text that CloudFormation completes at deploy time. */
import { Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';

/**
 * JSON.stringify that keeps number tokens (e.g. `CfnParameter.valueAsNumber`) as numbers: each becomes a
 * bare string token in the text (no quotes), so CloudFormation writes the number itself where the token
 * stands (`"clientPort":2379`). Plain JSON.stringify would print the token's encoded double instead.
 * String tokens stay inside their quotes, as JSON.stringify leaves them.
 */
export function tokenAwareJson(value: unknown): string {
  const numberTokens = new Map<string, string>();
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'number' && Token.isUnresolved(v)) {
      const marker = Token.asString(v);
      numberTokens.set(JSON.stringify(marker), marker);
      return marker;
    }
    return v;
  });
  let out = text;
  for (const [quoted, marker] of numberTokens) out = out.split(quoted).join(marker);
  return out;
}

/**
 * `ec2.Port.tcp(port)`, except that a port given as a token gets a name of its own in its text form. The
 * text names the security group rule's construct; two token ports would both read `{IndirectPort}`, and
 * the second rule between the same groups would be taken for the first and silently left out.
 */
export function tcpPort(port: number, name: string): ec2.Port {
  if (!Token.isUnresolved(port)) return ec2.Port.tcp(port);
  return new ec2.Port({
    protocol: ec2.Protocol.TCP,
    fromPort: port,
    toPort: port,
    stringRepresentation: `${name} {IndirectPort}`,
  });
}
