/**
 * Input validation of the wire models (spec §1, §2.4, §2.6, §5). Each validator
 * takes untrusted JSON and returns a normalized, typed value or throws
 * `InvalidRequestError` naming the field (HTTP 400).
 */
export * from './validation-limits';
export * from './field-reader';
export * from './common-fields';
export * from './request.validator';
export * from './deploy.validator';
export * from './action-bodies.validator';
