import { randomUUID } from 'node:crypto'
import { CloudError } from '../core/errors.ts'
import { type ImageCtx, type Req, nowIso } from './context.ts'
import { type ListQuery, findImage, idTaken, insertImage, listImages, markDeleted, transition } from './images-store.ts'
import { findMember } from './members-store.ts'
import { type Image, type Visibility, imageNotFound } from './model.ts'
import { checkSettable } from './patch.ts'
import { imageTarget } from './policy.ts'

// Images: create, read, list, delete, deactivate/reactivate (glance/api/v2/images.py,
// image_actions.py and glance/domain). Updates are in image-update.ts, data in image-data.ts.

/** An image the caller may see, and whether the caller's project is one of its members. */
export interface Loaded { image: Image; isMember: boolean }

/** Loads an image the caller may see, or throws Glance's 404. */
export async function loadImage(c: ImageCtx, r: Req, id: string, notFound = imageNotFound): Promise<Loaded> {
  // Ids longer than the column allows cannot exist (glance _check_image_id).
  const image = id.length <= 36 ? await findImage(c.db, id, r.caller) : undefined
  if (!image) throw notFound(id)
  const isMember = !!r.caller.project && image.visibility === 'shared' && image.owner !== r.caller.project &&
    !!(await findMember(c.db, id, r.caller.project))
  return { image, isMember }
}

const MAX_INT = 2 ** 31 - 1

/** Glance's checks of min_disk/min_ram: not negative, and fitting the database column. */
export function checkMinimum(name: 'min_disk' | 'min_ram', v: number): void {
  if (v < 0) throw new CloudError('BadRequest', `Invalid value '${v}' for parameter '${name}': Cannot be a negative value.`)
  if (v > MAX_INT) throw new CloudError('BadRequest', `'${name}' value out of range, must not exceed ${MAX_INT}.`)
}

/** 413s for images with more properties or tags than the quotas allow. */
export function checkQuotas(c: ImageCtx, props: number, tags: number): void {
  if (props > c.config.propertyQuota) {
    throw new CloudError('PayloadTooLarge', `The limit has been exceeded on the number of allowed image properties. Attempted: ${props}, Maximum: ${c.config.propertyQuota}`)
  }
  if (tags > c.config.tagQuota) {
    throw new CloudError('PayloadTooLarge', `The limit has been exceeded on the number of allowed image tags. Attempted: ${tags}, Maximum: ${c.config.tagQuota}`)
  }
}

/** Checks the visibility-specific rules (Glance's _enforce_image_visibility). */
export function enforceVisibility(r: Req, visibility: unknown, target: Record<string, unknown>): void {
  if (visibility === 'public') r.policy.enforce('publicize_image', target)
  else if (visibility === 'community') r.policy.enforce('communitize_image', target)
}

const CREATE_READ_ONLY = ['direct_url', 'self', 'file', 'schema', 'stores']
const FACTORY_READ_ONLY = ['created_at', 'updated_at', 'status', 'checksum', 'os_hash_algo', 'os_hash_value', 'size', 'virtual_size']
const CREATE_BASE = ['id', 'name', 'visibility', 'protected', 'os_hidden', 'min_disk', 'min_ram', 'owner', 'disk_format',
  'container_format', 'tags']

/** POST /v2/images: registers an image (status queued); nothing is written when any check fails. */
export async function createImage(c: ImageCtx, r: Req, body: unknown): Promise<Image> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new CloudError('BadRequest', 'Body expected in request: a JSON object describing the image.')
  }
  const b = { ...(body as Record<string, unknown>) }
  for (const k of CREATE_READ_ONLY) if (k in b) throw new CloudError('Forbidden', `Attribute '${k}' is read-only.`)
  c.schemas.check(b)
  for (const k of FACTORY_READ_ONLY) if (k in b) throw new CloudError('Forbidden', `Attribute '${k}' is read-only.`)
  const props: Record<string, string> = {}
  for (const [k, v] of Object.entries(b)) {
    if (CREATE_BASE.includes(k)) continue
    if (k.length > 255) throw new CloudError('BadRequest', 'Custom property should not be greater than 255 characters.')
    if (k === 'locations') throw new CloudError('Forbidden', `Attribute '${k}' is reserved.`)
    checkSettable(k, [])
    props[k] = v === null ? '' : String(v)
  }
  const tags = [...new Set((b.tags as string[] | undefined) ?? [])]
  checkQuotas(c, Object.keys(props).length, tags.length)
  const minDisk = (b.min_disk as number | undefined) ?? 0
  const minRam = (b.min_ram as number | undefined) ?? 0
  checkMinimum('min_disk', minDisk)
  checkMinimum('min_ram', minRam)

  const owner = 'owner' in b ? (b.owner as string | null) : (r.auth.projectId ?? null)
  const visibility = (b.visibility as Visibility | undefined) ?? 'shared'
  const target = { project_id: owner, owner, visibility }
  if (!r.policy.check('add_image', target)) {
    throw new CloudError('Forbidden', owner !== r.auth.projectId
      ? `You are not permitted to create images owned by '${owner}'.` : 'You are not authorized to complete add_image action.')
  }
  enforceVisibility(r, visibility, target)

  const id = (b.id as string | undefined) ?? randomUUID()
  if (await idTaken(c.db, id)) throw new CloudError('Conflict', `Image with identifier ${id} already exists!`)
  const now = nowIso(c)
  const image: Image = {
    id, name: (b.name as string | null | undefined) ?? null, status: 'queued', visibility,
    size: null, virtualSize: null, checksum: null, osHashAlgo: null, osHashValue: null,
    diskFormat: (b.disk_format as string | null | undefined) ?? null,
    containerFormat: (b.container_format as string | null | undefined) ?? null,
    minDisk, minRam, protected: (b.protected as boolean | undefined) ?? false, osHidden: (b.os_hidden as boolean | undefined) ?? false,
    owner, location: null, createdAt: now, updatedAt: now, properties: props, tags,
  }
  try {
    await insertImage(c.db, image)
  } catch (err) {
    // Two creates with the same id at once: the loser sees the primary key.
    if (await idTaken(c.db, id)) throw new CloudError('Conflict', `Image with identifier ${id} already exists!`)
    throw err
  }
  return image
}

/** GET /v2/images: one page; `next` is set when the page is full (Glance's next_marker). */
export async function listVisibleImages(c: ImageCtx, r: Req, q: Omit<ListQuery, 'caller' | 'marker'> & { marker?: string }):
  Promise<{ images: Image[]; nextMarker?: string }> {
  r.policy.enforce('get_images', { project_id: r.auth.projectId })
  let marker: Image | undefined
  if (q.marker !== undefined) {
    marker = await findImage(c.db, q.marker, r.caller)
    if (!marker) throw new CloudError('BadRequest', `No image found with ID ${q.marker}`)
  }
  const page = await listImages(c.db, { ...q, caller: r.caller, marker })
  // Each image is also checked against get_image, as Glance's index does.
  const images: Image[] = []
  for (const image of page) {
    const isMember = image.visibility === 'shared' && image.owner !== r.caller.project
    if (r.policy.check('get_image', imageTarget(image, r.auth, isMember))) images.push(image)
  }
  return { images, nextMarker: images.length > 0 && page.length === q.limit ? images[images.length - 1]!.id : undefined }
}

/** GET /v2/images/{id}. */
export async function showImage(c: ImageCtx, r: Req, id: string): Promise<Image> {
  const { image, isMember } = await loadImage(c, r, id)
  r.policy.enforceImage('get_image', image, isMember)
  return image
}

/** DELETE /v2/images/{id}: the row is marked deleted first, then the data is removed. */
export async function deleteImage(c: ImageCtx, r: Req, id: string): Promise<void> {
  const { image, isMember } = await loadImage(c, r, id)
  r.policy.enforceImage('delete_image', image, isMember)
  if (image.protected) throw new CloudError('Forbidden', `Image ${id} is protected and cannot be deleted.`)
  if (!(await markDeleted(c.db, id, nowIso(c)))) throw imageNotFound(id)
  if (image.location) {
    await c.store.delete(image.location).catch((err) => c.log.error({ err, image: id }, 'could not delete image data'))
  }
  // Data staged for an import that will not happen now.
  const staged = image.properties[STAGED_AT]
  if (staged) await c.staging.delete(staged).catch(() => {})
}

/** The hidden property that holds where `PUT /stage` put an image's data (Glance: os_glance_stage_host). */
export const STAGED_AT = 'os_glance_staged_at'
/** Properties the service keeps for itself and never shows. */
export const HIDDEN_PROPERTIES = [STAGED_AT, 'os_glance_import_task']

/** POST /v2/images/{id}/actions/deactivate|reactivate. */
export async function setActive(c: ImageCtx, r: Req, id: string, active: boolean): Promise<void> {
  const { image, isMember } = await loadImage(c, r, id)
  r.policy.enforceImage(active ? 'reactivate' : 'deactivate', image, isMember)
  const [from, to] = active ? ['deactivated', 'active'] as const : ['active', 'deactivated'] as const
  if (image.status === to) return
  if (image.status !== from || !(await transition(c.db, id, [from], { status: to }, nowIso(c)))) {
    const verb = active ? 'reactivate' : 'deactivate'
    throw new CloudError('Forbidden', `Not allowed to ${verb} image in status '${image.status}'`)
  }
}
