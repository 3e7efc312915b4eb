/* Chooses the Flatcar Container Linux AMI when the user does not pass `machineImage`. */
import { Stack, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { IConstruct } from 'constructs';

/** The AWS account that publishes the official Flatcar AMIs. */
export const FLATCAR_OWNER = '075585003325';

/**
 * Context key of the AMI map used when the stack is environment-agnostic (no concrete account and
 * region, so no lookup is possible): an object `{ "<region>": "ami-..." }`, or the same as a JSON
 * string (the form `cdk synth -c key=value` gives).
 */
export const FLATCAR_AMI_CONTEXT_KEY = 'cdk-elastic-etcd:flatcarAmi';

/** The AMI name pattern of Flatcar's stable channel for an architecture. */
export function flatcarAmiName(architecture: ec2.InstanceArchitecture): string {
  return architecture === ec2.InstanceArchitecture.ARM_64
    ? 'Flatcar-stable-*-arm64-hvm'
    : 'Flatcar-stable-*-hvm';
}

/** The EC2 `architecture` filter value for an instance architecture. */
function ec2Architecture(architecture: ec2.InstanceArchitecture): string {
  return architecture === ec2.InstanceArchitecture.ARM_64 ? 'arm64' : 'x86_64';
}

/** Result of the choice: an image, or the reason none could be chosen (reported with the other prop errors). */
export interface FlatcarImageChoice {
  readonly image?: ec2.IMachineImage;
  readonly error?: string;
}

function parseAmiMap(value: unknown): Record<string, string> | string {
  let v = value;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      return `context ${FLATCAR_AMI_CONTEXT_KEY} is not valid JSON`;
    }
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    return `context ${FLATCAR_AMI_CONTEXT_KEY} must be an object of region to AMI id`;
  }
  const entries = Object.entries(v as Record<string, unknown>);
  const bad = entries.filter(([, ami]) => typeof ami !== 'string' || !/^ami-[0-9a-z]+$/.test(ami));
  if (entries.length === 0 || bad.length > 0) {
    return `context ${FLATCAR_AMI_CONTEXT_KEY} must map each region to an AMI id (ami-...)${
      bad.length > 0 ? `; bad entries: ${bad.map(([r]) => r).join(', ')}` : ''
    }`;
  }
  return v as Record<string, string>;
}

/**
 * The newest Flatcar stable AMI for the architecture:
 *  - stack with a concrete account and region: `MachineImage.lookup` by name and owner, filtered on
 *    architecture (the x86 pattern `Flatcar-stable-*-hvm` also matches the arm64 names);
 *  - environment-agnostic stack: the region map in context `cdk-elastic-etcd:flatcarAmi`;
 *  - otherwise an error that says what to pass.
 */
export function chooseFlatcarImage(
  scope: IConstruct,
  architecture: ec2.InstanceArchitecture,
): FlatcarImageChoice {
  const stack = Stack.of(scope);
  if (!Token.isUnresolved(stack.account) && !Token.isUnresolved(stack.region)) {
    return {
      image: ec2.MachineImage.lookup({
        name: flatcarAmiName(architecture),
        owners: [FLATCAR_OWNER],
        filters: { architecture: [ec2Architecture(architecture)] },
      }),
    };
  }
  const ctx = scope.node.tryGetContext(FLATCAR_AMI_CONTEXT_KEY);
  if (ctx === undefined) {
    return {
      error:
        'machineImage: the stack has no concrete account/region, so the Flatcar AMI cannot be looked up. ' +
        `Give the stack an env (account and region), pass machineImage, or set context ${FLATCAR_AMI_CONTEXT_KEY} ` +
        `to a map of region to Flatcar ${ec2Architecture(architecture)} AMI id, e.g. -c '${FLATCAR_AMI_CONTEXT_KEY}={"us-east-1":"ami-..."}'`,
    };
  }
  const map = parseAmiMap(ctx);
  if (typeof map === 'string') return { error: `machineImage: ${map}` };
  return { image: ec2.MachineImage.genericLinux(map) };
}
