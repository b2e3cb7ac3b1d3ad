/**
 * Typed domain errors. Libraries throw these; the scheduler's HTTP layer maps
 * them to status codes (400/404/409/429/503) with the message as the body.
 */
export abstract class DomainError extends Error {
  abstract readonly status: number;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad input. `field` names the offending field (dotted path) when there is one. */
export class InvalidRequestError extends DomainError {
  readonly status = 400;
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export class NotFoundError extends DomainError {
  readonly status = 404;
}

/** The request conflicts with the current state (e.g. pausing a paused request). */
export class ConflictError extends DomainError {
  readonly status = 409;
  constructor(
    message: string,
    /** Optional JSON body to return instead of the plain message (spec: kill vs existing destroy). */
    readonly body?: unknown,
  ) {
    super(message);
  }
}

/** A concurrency cap was reached (spec: ON_DEMAND run-now beyond `instances`). */
export class TooManyRequestsError extends DomainError {
  readonly status = 429;
}

/** A dependency (state store, leader) is not available right now; retry later. */
export class UnavailableError extends DomainError {
  readonly status = 503;
}
