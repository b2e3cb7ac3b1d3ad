import { Inject } from '@nestjs/common';

export const RUNTIME = Symbol('SchedulerRuntime');
export const InjectRuntime = () => Inject(RUNTIME);

/** The acting user: the `X-Username` header (authentication comes with a later issue). */
export function userOf(headers: Record<string, string | string[] | undefined>): string | undefined {
  const value = headers['x-username'];
  return Array.isArray(value) ? value[0] : value;
}

export const bool = (v: string | undefined): boolean => v === 'true' || v === '1';
