/**
 * Scheduler settings used by the pure logic, with the defaults of spec §5.
 * The scheduler app loads these from its configuration file.
 */
export interface SchedulerSettings {
  checkSchedulerEverySeconds: number;
  considerTaskHealthyAfterRunningForSeconds: number;
  deployHealthyBySeconds: number;
  askDriverToKillTasksAgainAfterMillis: number;
  reconcileLaunchAfterMillis: number;
  killNonLongRunningTasksInCleanupAfterSeconds: number;
  defaultBounceExpirationMinutes: number;
  maxScaleDownWithoutAcknowledgement: number;
  deltaAfterWhichTasksAreLateMillis: number;
  defaultSigKillProcessesAfterMillis: number;
}

export const DEFAULT_SCHEDULER_SETTINGS: SchedulerSettings = {
  checkSchedulerEverySeconds: 5,
  considerTaskHealthyAfterRunningForSeconds: 5,
  deployHealthyBySeconds: 120,
  askDriverToKillTasksAgainAfterMillis: 300_000,
  reconcileLaunchAfterMillis: 180_000,
  killNonLongRunningTasksInCleanupAfterSeconds: 86_400,
  defaultBounceExpirationMinutes: 60,
  maxScaleDownWithoutAcknowledgement: 10,
  deltaAfterWhichTasksAreLateMillis: 30_000,
  defaultSigKillProcessesAfterMillis: 120_000,
};
