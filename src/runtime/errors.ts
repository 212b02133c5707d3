// Typed errors. Each carries a message that says what is wrong and, where it
// helps, how to fix it; the CLI maps them to stderr, the log and exit code 1.
// Callers such as containerd match substrings of some of these messages
// ("does not exist", "container not running", "no such process",
// "already exists"), so keep that wording.

export class CcrunError extends Error {
  exitCode = 1;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad command-line use: unknown flag, missing argument. */
export class UsageError extends CcrunError {}

/** config.json does not validate or asks for something unsupported. */
export class ConfigError extends CcrunError {}

/** Unknown container, image, bundle or file. */
export class NotFoundError extends CcrunError {}

/** The operation is not allowed in the container's current state. */
export class StateError extends CcrunError {}

/** A create/exec failed inside the container set-up. */
export class ContainerSetupError extends CcrunError {}

/** Anything the host cannot do for us (missing kernel feature, permission). */
export class HostError extends CcrunError {}

export function containerNotFound(id: string): NotFoundError {
  return new NotFoundError(`container "${id}" does not exist`);
}
