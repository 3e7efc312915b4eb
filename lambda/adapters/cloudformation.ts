/*
 * The rollout gate's one CloudFormation call: SignalResource for this instance (UniqueId: its instance id).
 * Thin: the agent decides when and what to signal (lambda/agent/signal.ts).
 */
import { CloudFormationClient, SignalResourceCommand } from '@aws-sdk/client-cloudformation';
import type { AgentRolloutSignalConfig } from '../../lib/contract';

export type RolloutSignalStatus = 'SUCCESS' | 'FAILURE';

export class RolloutSignaller {
  private readonly client: CloudFormationClient;

  constructor(
    region: string,
    private readonly target: AgentRolloutSignalConfig,
  ) {
    this.client = new CloudFormationClient({ region, maxAttempts: 4 });
  }

  async signal(instanceId: string, status: RolloutSignalStatus): Promise<void> {
    await this.client.send(
      new SignalResourceCommand({
        StackName: this.target.stackName,
        LogicalResourceId: this.target.logicalResourceId,
        UniqueId: instanceId,
        Status: status,
      }),
    );
  }
}
