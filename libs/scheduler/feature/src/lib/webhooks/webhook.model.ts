import type {
  CrashLoopInfo,
  SingularityDeploy,
  SingularityDeployMarker,
  SingularityDeployResult,
  SingularityTask,
  SingularityTaskHistoryUpdate,
} from '@singularity/models';
import type { RequestHistoryRecord } from '../scheduler-state';

/** What a webhook is told about (spec §1 Webhook, §3.6). */
export const WEBHOOK_TYPES = ['TASK', 'REQUEST', 'DEPLOY', 'CRASHLOOP'] as const;
export type WebhookType = (typeof WEBHOOK_TYPES)[number];

/** A destination for one type of update (`SingularityWebhook`). */
export interface SingularityWebhook {
  /** `{TYPE}-{url-encoded uri}`: one webhook per type and uri, whatever id a client sends. */
  id: string;
  uri: string;
  type: WebhookType;
  user?: string;
  timestamp: number;
}

/** `GET /webhooks/summary`: a webhook with how many updates wait for it. */
export interface SingularityWebhookSummary {
  webhook: SingularityWebhook;
  queueSize: number;
}

export type WebhookCreateResult = 'CREATED' | 'EXISTED';
export type WebhookDeleteResult = 'DELETED' | 'DIDNT_EXIST';

/** Body of a DEPLOY webhook (`SingularityDeployUpdate`): the pending deploy started, or got its result. */
export interface SingularityDeployUpdate {
  deployMarker: SingularityDeployMarker;
  deploy?: SingularityDeploy;
  eventType: 'STARTING' | 'FINISHED';
  deployResult?: SingularityDeployResult;
}

/** Body of a TASK webhook (`SingularityTaskWebhook`): the task with the update that just happened to it. */
export interface SingularityTaskWebhook {
  task: SingularityTask;
  taskUpdate: SingularityTaskHistoryUpdate;
}

/** Body of a CRASHLOOP webhook: the loop as `GET …/crashloops` shows it. */
export type { CrashLoopInfo } from '@singularity/models';

/** The JSON POSTed for each type. */
export interface WebhookPayloads {
  REQUEST: RequestHistoryRecord;
  DEPLOY: SingularityDeployUpdate;
  TASK: SingularityTaskWebhook;
  CRASHLOOP: CrashLoopInfo;
}

/** Values for the uri placeholders `$REQUEST_ID`, `$DEPLOY_ID`, `$TASK_ID`. */
export interface WebhookPlaceholders {
  requestId?: string;
  deployId?: string;
  taskId?: string;
}

/**
 * One update waiting for one webhook, as persisted (collection
 * `webhook-updates`). It is written in the same commit as the state change it
 * reports and removed once the receiver answered 2xx, or dropped (§3.6).
 */
export interface QueuedWebhookUpdate<T extends WebhookType = WebhookType> {
  webhookId: string;
  type: T;
  /** Names the event; with `webhookId` it makes the record's key, so one event is queued once per webhook. */
  eventKey: string;
  /** When it was queued (scheduler clock). */
  queuedAt: number;
  /** Orders updates queued in the same millisecond. */
  seq: number;
  placeholders: WebhookPlaceholders;
  payload: WebhookPayloads[T];
}

/**
 * `URLEncoder.encode(s, UTF-8)` as the original computes webhook ids: letters,
 * digits and `.-*_` stay, a space becomes `+`, every other UTF-8 byte `%XX`.
 */
export function formUrlEncode(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const ch = String.fromCharCode(byte);
    if (/[A-Za-z0-9.\-*_]/.test(ch)) out += ch;
    else if (ch === ' ') out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Spec §1: `{TYPE}-{url-encoded uri}`. */
export function webhookIdOf(type: WebhookType, uri: string): string {
  return `${type}-${formUrlEncode(uri)}`;
}

/** The uri with its placeholders filled in (values URL-encoded; absent ones stay as written). */
export function substitutePlaceholders(uri: string, values: WebhookPlaceholders): string {
  const fill = (text: string, placeholder: string, value: string | undefined) => (value === undefined ? text : text.split(placeholder).join(encodeURIComponent(value)));
  return fill(fill(fill(uri, '$REQUEST_ID', values.requestId), '$DEPLOY_ID', values.deployId), '$TASK_ID', values.taskId);
}
