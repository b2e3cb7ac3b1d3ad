export {
  DOWNLOAD_SERVICE_CONFIG_ENV_PREFIX,
  downloadServiceConfig,
  downloadServiceConfigSchema,
  downloadServiceSectionSchema,
  downloadServiceSectionsSchema,
  loadDownloadServiceConfig,
  type DownloadServiceConfig,
  type DownloadServiceConfigInput,
  type DownloadServiceSettings,
} from './download-service-config';
export { DownloadServiceMetrics, type DownloadServiceMetricsSnapshot } from './download-service-metrics';
export { SharedDownloads, type SharedDownloadsOptions } from './shared-downloads';
export { ArtifactDownloadService, type ArtifactDownloadServiceOptions, type DownloadServiceAddress } from './artifact-download-service';
