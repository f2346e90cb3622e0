/**
 * glance-api.conf options the image service honours, with Glance's defaults. One object,
 * passed in explicitly (createImage's `config`), so tests and operators can change it.
 */
export interface ImageConfig {
  /** [image_format] container_formats */
  containerFormats: string[]
  /** [image_format] disk_formats */
  diskFormats: string[]
  /** Default and largest page of GET /v2/images (limit_param_default, api_limit_max). */
  limitDefault: number
  limitMax: number
  /** Largest image in bytes (image_size_cap, 1 TiB). Larger uploads get 413. */
  imageSizeCap: number
  /** Per-image quotas (image_member_quota, image_property_quota, image_tag_quota); 413 beyond. */
  memberQuota: number
  propertyQuota: number
  tagQuota: number
  /** enabled_import_methods; an empty list turns the import API off. */
  importMethods: Array<'glance-direct' | 'web-download'>
  /** [import_filtering_opts] for web-download: which URLs the server may fetch. */
  importFilter: { allowedSchemes: string[]; allowedPorts: number[]; disallowedHosts: string[]; allowedHosts: string[] }
  /** How long finished import tasks are kept (task_time_to_live, hours). */
  taskTimeToLiveHours: number
}

/** Glance's defaults (glance/common/config.py). */
export const defaultImageConfig: ImageConfig = {
  containerFormats: ['ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed'],
  diskFormats: ['ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop'],
  limitDefault: 25,
  limitMax: 1000,
  imageSizeCap: 1024 ** 4,
  memberQuota: 128,
  propertyQuota: 128,
  tagQuota: 128,
  importMethods: ['glance-direct', 'web-download'],
  importFilter: { allowedSchemes: ['http', 'https'], allowedPorts: [80, 443], disallowedHosts: [], allowedHosts: [] },
  taskTimeToLiveHours: 48,
}
