/** A config file or environment that does not satisfy the contract; the message names every bad field. */
export class ConfigError extends Error {}
