import { CloudError } from '../core/errors.ts'

/** Glance's image statuses. */
export type ImageStatus = 'queued' | 'saving' | 'active' | 'killed' | 'deleted' | 'pending_delete' |
  'deactivated' | 'uploading' | 'importing'

/** Who may see an image: everyone (public, community), its owner (private), its members (shared). */
export type Visibility = 'public' | 'private' | 'shared' | 'community'
/** The visibilities in Glance's schema order. */
export const VISIBILITIES: readonly Visibility[] = ['community', 'public', 'private', 'shared']

/** An image as the service sees it (the row, its properties and tags). */
export interface Image {
  id: string
  name: string | null
  status: ImageStatus
  visibility: Visibility
  size: number | null
  virtualSize: number | null
  checksum: string | null
  osHashAlgo: string | null
  osHashValue: string | null
  diskFormat: string | null
  containerFormat: string | null
  minDisk: number
  minRam: number
  protected: boolean
  osHidden: boolean
  owner: string | null
  /** The ImageStore's URI for the data, once uploaded. */
  location: string | null
  createdAt: string
  updatedAt: string
  /** Extra (free-form) properties; Glance keeps their values as strings. */
  properties: Record<string, string>
  tags: string[]
}

/** The base attributes an image has besides its free-form properties (Glance's _base_properties). */
export const BASE_ATTRIBUTES = ['checksum', 'created_at', 'container_format', 'disk_format', 'id', 'min_disk',
  'min_ram', 'name', 'size', 'virtual_size', 'status', 'tags', 'owner', 'updated_at', 'visibility', 'protected',
  'os_hidden', 'os_hash_algo', 'os_hash_value'] as const

/** Which status may follow which (glance/domain Image.valid_state_targets). */
const TRANSITIONS: Record<ImageStatus, readonly ImageStatus[]> = {
  queued: ['saving', 'uploading', 'importing', 'active', 'deleted'],
  saving: ['active', 'killed', 'deleted', 'queued'],
  uploading: ['importing', 'queued', 'deleted'],
  importing: ['active', 'deleted', 'queued'],
  active: ['pending_delete', 'deleted', 'deactivated'],
  killed: ['deleted'],
  pending_delete: ['deleted', 'active'],
  deleted: [],
  deactivated: ['active', 'deleted'],
}

/** Glance's 409 for a status change its state machine does not allow. */
export function checkTransition(from: ImageStatus, to: ImageStatus): void {
  if (!TRANSITIONS[from].includes(to)) {
    throw new CloudError('Conflict', `Image status transition from ${from} to ${to} is not allowed`)
  }
}

/** Data may only be saved once both formats are known (glance/domain Image.status setter). */
export function checkFormatsSet(image: Image): void {
  const missing = (['disk_format', 'container_format'] as const)
    .filter((k) => !(k === 'disk_format' ? image.diskFormat : image.containerFormat))
  if (missing.length === 1) throw new CloudError('BadRequest', `Property ${missing[0]} must be set prior to saving data.`)
  if (missing.length > 1) throw new CloudError('BadRequest', `Properties ${missing.join(', ')} must be set prior to saving data.`)
}

/** Glance's own timestamp format (timeutils.isotime): seconds, UTC, 'Z'. */
export function isoTime(iso: string): string {
  return iso.slice(0, 19) + 'Z'
}

/** Glance's 404 for an image the caller cannot see (or that does not exist). */
export function imageNotFound(id: string): CloudError {
  return new CloudError('NotFound', `No image found with ID ${id}`)
}

/** Image ids are UUIDs with dashes (Glance's `id` pattern). */
export const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/
