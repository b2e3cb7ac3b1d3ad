export * from './webhook.model';
export { WEBHOOK_COLLECTIONS } from './webhook-queue';
export * from './webhook.service';
export * from './webhook-poster';
export * from './webhook-dispatcher';
