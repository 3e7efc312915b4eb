/* The public enum JoinStrategy is the contract's (lib/contract/enums.ts): the agent and the Lambda read the same values. */
export { JoinStrategy } from './contract/enums';
