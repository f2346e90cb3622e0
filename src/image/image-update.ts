import { CloudError } from '../core/errors.ts'
import { type ImageCtx, type Req, nowIso } from './context.ts'
import { type MetadataChange, findImage, saveMetadata } from './images-store.ts'
import { type Image, type Visibility, imageNotFound } from './model.ts'
import type { Change } from './patch.ts'
import { checkMinimum, checkQuotas, enforceVisibility, loadImage } from './service.ts'

// PATCH /v2/images/{id} and the tag calls (glance/api/v2/images.py update, _do_add/_do_replace/
// _do_remove, image_tags.py). Every change is checked and applied to a copy first; the image is
// written once, so a patch with one bad change changes nothing.

/** Attributes of the image itself that a patch may set (everything else is a free-form property). */
const SETTABLE = ['name', 'visibility', 'protected', 'os_hidden', 'min_disk', 'min_ram', 'container_format',
  'disk_format', 'owner', 'tags'] as const
type Settable = typeof SETTABLE[number]
const isSettable = (k: string): k is Settable => (SETTABLE as readonly string[]).includes(k)

function draftOf(i: Image): MetadataChange {
  return { name: i.name, visibility: i.visibility, protected: i.protected, osHidden: i.osHidden, minDisk: i.minDisk,
    minRam: i.minRam, diskFormat: i.diskFormat, containerFormat: i.containerFormat, owner: i.owner,
    properties: { ...i.properties }, tags: [...i.tags] }
}

function setAttribute(d: MetadataChange, image: Image, key: Settable, value: unknown): void {
  switch (key) {
    case 'name': d.name = value as string | null; return
    case 'visibility': d.visibility = value as Visibility; return
    case 'protected': d.protected = value as boolean; return
    case 'os_hidden': d.osHidden = value as boolean; return
    case 'min_disk': checkMinimum('min_disk', value as number); d.minDisk = value as number; return
    case 'min_ram': checkMinimum('min_ram', value as number); d.minRam = value as number; return
    case 'owner': d.owner = value as string | null; return
    case 'tags': d.tags = [...new Set(value as string[])]; return
    case 'container_format': case 'disk_format':
      // Formats describe the data: they are fixed once data exists (glance/domain).
      if (image.status !== 'queued' && image.status !== 'importing') {
        throw new CloudError('Forbidden', `Attribute ${key} can be only replaced for a queued image.`)
      }
      if (key === 'disk_format') d.diskFormat = value as string | null
      else d.containerFormat = value as string | null
  }
}

/** Applies a parsed patch and returns the updated image. */
export async function updateImage(c: ImageCtx, r: Req, id: string, changes: Change[]): Promise<Image> {
  const { image, isMember } = await loadImage(c, r, id)
  const d = draftOf(image)
  const modify = (key: string, value?: unknown) => {
    if (key === 'visibility') enforceVisibility(r, value, { project_id: image.owner, owner: image.owner, visibility: value })
    r.policy.enforceImage('modify_image', image, isMember)
  }
  for (const ch of changes) {
    const key = ch.path[0]!
    if (key === 'locations') {
      // Locations are not shown (show_multiple_locations = False), so they cannot be edited either.
      r.policy.enforceImage(ch.op === 'remove' ? 'delete_image_location' : 'set_image_location', image, isMember)
      const verb = { add: 'add', replace: 'update', remove: 'remove' }[ch.op]
      throw new CloudError('Forbidden', `It's not allowed to ${verb} locations if locations are invisible.`)
    }
    if (ch.op === 'replace') {
      if (key === 'owner' && !r.caller.admin) throw new CloudError('Forbidden', "Owner can't be updated by non admin.")
      modify(key, ch.value)
      if (isSettable(key)) setAttribute(d, image, key, ch.value)
      else if (key in d.properties) d.properties[key] = ch.value === null ? '' : String(ch.value)
      else throw new CloudError('Conflict', `Property ${key} does not exist.`)
    } else if (ch.op === 'add') {
      modify(key, ch.value)
      if (ch.draft === 4 && (isSettable(key) || key in d.properties)) {
        throw new CloudError('Conflict', `Property ${key} already present.`)
      }
      if (isSettable(key)) {
        if (key === 'owner' && !r.caller.admin) throw new CloudError('Forbidden', "Owner can't be updated by non admin.")
        setAttribute(d, image, key, ch.value)
      } else {
        if (key.length > 255) throw new CloudError('BadRequest', 'Custom property should not be greater than 255 characters.')
        d.properties[key] = ch.value === null ? '' : String(ch.value)
      }
    } else {
      modify(key)
      if (isSettable(key)) throw new CloudError('Forbidden', `Property ${key} may not be removed.`)
      if (!(key in d.properties)) throw new CloudError('Conflict', `Property ${key} does not exist.`)
      delete d.properties[key]
    }
  }
  if (changes.length === 0) return image
  checkQuotas(c, Object.keys(d.properties).length, d.tags.length)
  await save(c, r, image, d)
  return (await findImage(c.db, id, { ...r.caller, admin: true }))!
}

async function save(c: ImageCtx, r: Req, image: Image, d: MetadataChange): Promise<void> {
  const formatsChanged = d.diskFormat !== image.diskFormat || d.containerFormat !== image.containerFormat
  // A format change must not race an upload that started meanwhile.
  const ok = await saveMetadata(c.db, image.id, d, nowIso(c), formatsChanged ? ['queued', 'importing'] : undefined)
  if (!ok) {
    if (!(await findImage(c.db, image.id, r.caller))) throw imageNotFound(image.id)
    throw new CloudError('Conflict', `Image ${image.id} changed status while it was being updated; try again.`)
  }
}

/** PUT /v2/images/{id}/tags/{tag}: adds a tag (adding one already there is fine). */
export async function addTag(c: ImageCtx, r: Req, id: string, tag: string): Promise<void> {
  const notFound = (i: string) => new CloudError('NotFound', `Image ${i} not found.`)
  const { image, isMember } = await loadImage(c, r, id, notFound)
  r.policy.enforceImage('modify_image', image, isMember, `Not allowed to update tags for image ${id}.`)
  if (tag.length > 255) {
    throw new CloudError('BadRequest', `Provided object does not match schema 'image': tags.0 must NOT have more than 255 characters`)
  }
  if (image.tags.includes(tag)) return
  const d = draftOf(image)
  d.tags.push(tag)
  if (d.tags.length > c.config.tagQuota) {
    throw new CloudError('PayloadTooLarge', `Image tag limit exceeded for image ${id}: The limit has been exceeded on the number of allowed image tags. Attempted: ${d.tags.length}, Maximum: ${c.config.tagQuota}`)
  }
  await save(c, r, image, d)
}

/** DELETE /v2/images/{id}/tags/{tag}. */
export async function removeTag(c: ImageCtx, r: Req, id: string, tag: string): Promise<void> {
  const notFound = (i: string) => new CloudError('NotFound', `Image ${i} not found.`)
  const { image, isMember } = await loadImage(c, r, id, notFound)
  r.policy.enforceImage('modify_image', image, isMember, `Not allowed to delete tags for image ${id}.`)
  if (!image.tags.includes(tag)) throw new CloudError('NotFound', `Tag ${tag} not found on image ${id}.`)
  const d = draftOf(image)
  d.tags = d.tags.filter((t) => t !== tag)
  await save(c, r, image, d)
}
