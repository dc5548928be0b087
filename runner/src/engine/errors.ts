/**
 * The ways an operation is refused, defined once for the engine, runs, schedules and webhooks.
 * A refusal says what went wrong in the caller's terms, not how to answer it: the HTTP layer maps
 * kinds to statuses in one place (http/refusals.ts), and worker calls map them to reply codes in
 * one place (workerCalls.ts). Any other error is a bug and answers as one (500, no code).
 */

/** An operation refused for a reason the caller can act on; `field` names the input at fault. */
export abstract class Refusal extends Error {
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** What the operation names does not exist. */
export class NotFound extends Refusal {}

/** It exists, but its state (or another record's) does not allow the operation now. */
export class Conflict extends Refusal {}

/** The input itself is wrong; `field` says which part when the input has parts. */
export class Invalid extends Refusal {}

/** The runner cannot do it now (it is stopping). */
export class Unavailable extends Refusal {}

/** A wait a flow asked for ran out: of `execution.wait` / `message.wait`, or for a lock. */
export class TimedOut extends Refusal {
  constructor(
    message: string,
    readonly waitingFor: 'executions' | 'message' | 'lock',
  ) {
    super(message);
  }
}
