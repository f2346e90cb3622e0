import type { Member } from './members-store.ts'
import { type Image, isoTime } from './model.ts'
import type { TaskRow } from './schema.ts'
import { HIDDEN_PROPERTIES } from './service.ts'

// Response bodies in Glance's shapes (glance/api/v2/images.py ResponseSerializer._format_image,
// image_members.py, tasks.py). Links are paths, as Glance writes them.

/** An image as GET /v2/images/{id} shows it: free-form properties at the top level. */
export function imageView(i: Image): Record<string, unknown> {
  const view: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(i.properties)) if (!HIDDEN_PROPERTIES.includes(k)) view[k] = v
  Object.assign(view, {
    name: i.name, disk_format: i.diskFormat, container_format: i.containerFormat, visibility: i.visibility,
    size: i.size, virtual_size: i.virtualSize, status: i.status, checksum: i.checksum, protected: i.protected,
    min_ram: i.minRam, min_disk: i.minDisk, owner: i.owner, os_hidden: i.osHidden, os_hash_algo: i.osHashAlgo,
    os_hash_value: i.osHashValue, id: i.id, created_at: isoTime(i.createdAt), updated_at: isoTime(i.updatedAt),
    tags: [...i.tags], self: `/v2/images/${i.id}`, file: `/v2/images/${i.id}/file`, schema: '/v2/schemas/image',
  })
  return view
}

/** An image membership. */
export function memberView(m: Member): Record<string, unknown> {
  return { member_id: m.memberId, image_id: m.imageId, status: m.status, created_at: isoTime(m.createdAt),
    updated_at: isoTime(m.updatedAt), schema: '/v2/schemas/member' }
}

const json = (s: string | null): unknown => (s === null ? null : JSON.parse(s))

/** A task as GET /v2/images/{id}/tasks lists it (Glance's _task_format: database-style fields). */
export function imageTaskView(t: TaskRow): Record<string, unknown> {
  return { id: t.id, type: t.type, status: t.status, owner: t.owner, expires_at: t.expires_at && isoTime(t.expires_at),
    created_at: isoTime(t.created_at), updated_at: isoTime(t.updated_at), deleted_at: null, deleted: false,
    image_id: t.image_id, request_id: t.request_id, user_id: t.user_id, input: json(t.input), result: json(t.result),
    message: t.message }
}

/** A task as GET /v2/tasks/{id} shows it; `stub` leaves out input, result and message (lists). */
export function taskView(t: TaskRow, stub = false): Record<string, unknown> {
  const v: Record<string, unknown> = { id: t.id, type: t.type, status: t.status, owner: t.owner,
    created_at: isoTime(t.created_at), updated_at: isoTime(t.updated_at), self: `/v2/tasks/${t.id}`, schema: '/v2/schemas/task' }
  if (!stub) Object.assign(v, { input: json(t.input), result: json(t.result), message: t.message })
  if (!stub && t.image_id) v.image_id = t.image_id
  if (!stub && t.request_id) v.request_id = t.request_id
  if (!stub && t.user_id) v.user_id = t.user_id
  if (t.expires_at) v.expires_at = isoTime(t.expires_at)
  return v
}
