import { randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import { CloudError } from '../core/errors.ts'
import { type ImageCtx, type Req, nowIso, spawn } from './context.ts'
import { findImage, setProperty, transition } from './images-store.ts'
import { hashInto } from './image-data.ts'
import { STAGED_AT, loadImage } from './service.ts'
import type { TaskRow } from './schema.ts'

// Interoperable image import (POST /v2/images/{id}/import, glance/api/v2/images.py
// import_image and glance/async_/flows/api_image_import.py): `glance-direct` moves data staged
// with PUT /stage into the store, `web-download` fetches it from a URL. Each import is a task
// (GET /v2/images/{id}/tasks) that runs in the background; the image is `importing` meanwhile
// and becomes `active`, or returns to `queued` when the import fails.

const bad = (msg: string) => new CloudError('BadRequest', msg)
const IMPORTING = 'os_glance_importing_to_stores'
const FAILED = 'os_glance_failed_import'

interface ImportBody {
  method: { name: string; uri?: string }
  all_stores?: boolean
  all_stores_must_succeed?: boolean
  stores?: unknown
}

/** Glance's ad-hoc validation of an import request body. */
function checkBody(c: ImageCtx, body: unknown): ImportBody {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw bad('Body expected in request.')
  const b = body as Record<string, unknown>
  if (!('method' in b)) throw bad("Import request requires a 'method' field.")
  const method = b.method as Record<string, unknown> | null
  if (method === null || typeof method !== 'object' || !('name' in method)) throw bad("Import request requires a 'name' field.")
  if (!(c.config.importMethods as string[]).includes(method.name as string)) {
    throw bad(`Unknown import method name '${String(method.name)}'.`)
  }
  const mustSucceed = b.all_stores_must_succeed ?? true
  if (typeof mustSucceed !== 'boolean') throw bad("'all_stores_must_succeed' must be boolean value only")
  if (typeof (b.all_stores ?? false) !== 'boolean') throw bad("'all_stores' must be boolean value only")
  // One store here (no enabled_backends): Glance refuses what only multi-store can honour.
  if (mustSucceed === false) throw bad('All_stores_must_succeed can only be set with enabled_backends')
  return b as unknown as ImportBody
}

/** True when web-download may fetch `uri` ([import_filtering_opts] as glance.common.utils.validate_import_uri). */
export function uriAllowed(c: ImageCtx, uri: unknown): boolean {
  if (typeof uri !== 'string' || !uri) return false
  let u: URL
  try { u = new URL(uri) } catch { return false }
  const f = c.config.importFilter
  const scheme = u.protocol.replace(/:$/, '')
  if (f.allowedSchemes.length && !f.allowedSchemes.includes(scheme)) return false
  const host = u.hostname.replace(/^\[|\]$/g, '').toLowerCase()
  if (!host) return false
  if (f.allowedHosts.length ? !f.allowedHosts.includes(host) : f.disallowedHosts.includes(host)) return false
  if (u.port && f.allowedPorts.length && !f.allowedPorts.includes(Number(u.port))) return false
  return true
}

/** POST /v2/images/{id}/import: checks, takes the image to `importing` and starts the task. */
export async function importImage(c: ImageCtx, r: Req, id: string, body: unknown): Promise<void> {
  const b = checkBody(c, body)
  const method = b.method.name as 'glance-direct' | 'web-download'
  const { image, isMember } = await loadImage(c, r, id)
  const conflict = (msg: string) => new CloudError('Conflict', msg)
  if (image.status === 'active') throw conflict('Image with status active cannot be target for import')
  if (method === 'web-download' && image.status !== 'queued') throw conflict("Image needs to be in 'queued' state to use 'web-download' method")
  if (method === 'glance-direct' && image.status !== 'uploading') throw conflict("Image needs to be staged before 'glance-direct' method can be used")
  if (!image.containerFormat) throw conflict("'container_format' needs to be set before import")
  if (!image.diskFormat) throw conflict("'disk_format' needs to be set before import")
  r.policy.enforceImage('modify_image', image, isMember)
  if (method === 'web-download' && !uriAllowed(c, b.method.uri)) {
    throw bad(`URI for web-download does not pass filtering: ${String(b.method.uri)}`)
  }
  const now = nowIso(c)
  // The status change is the import lock: a second import of the same image loses it.
  if (!(await transition(c.db, id, [image.status], { status: 'importing' }, now))) {
    throw conflict(`New operation on image '${id}' is not permitted as prior operation is still in progress`)
  }
  const task: TaskRow = {
    id: randomUUID(), type: 'api_image_import', status: 'pending', owner: r.auth.projectId ?? null, image_id: id,
    user_id: r.auth.userId, request_id: r.requestId, input: JSON.stringify({ image_id: id, import_req: body, backend: [null] }),
    result: null, message: '', expires_at: null, created_at: now, updated_at: now,
  }
  await c.db.insertInto('tasks').values(task).execute()
  // Glance's import bookkeeping, shown on the image: where it is going, where it failed before.
  await setProperty(c.db, id, IMPORTING, c.store.kind)
  await setProperty(c.db, id, FAILED, null)
  spawn(c, `image import ${id}`, () => runImport(c, task.id, id, method, b.method.uri, image.status))
}

async function setTask(c: ImageCtx, taskId: string, status: string, extra: Partial<TaskRow> = {}): Promise<void> {
  const now = nowIso(c)
  const done = status === 'success' || status === 'failure'
  const expires = done ? new Date(c.clock.now() + c.config.taskTimeToLiveHours * 3600_000).toISOString() : null
  await c.db.updateTable('tasks').set({ status, updated_at: now, expires_at: expires, ...extra }).where('id', '=', taskId).execute()
}

/** The import itself, in the background. */
async function runImport(c: ImageCtx, taskId: string, id: string, method: string, uri: string | undefined, from: string): Promise<void> {
  await setTask(c, taskId, 'processing')
  const image = await findImage(c.db, id, { admin: true })
  const staged = image?.properties[STAGED_AT]
  try {
    if (!image) throw new Error('the image was deleted during the import')
    const source = method === 'glance-direct' ? await c.staging.get(staged ?? '') : await fetchData(c, uri!)
    const stored = await hashInto(c.store, id, source, c.config.imageSizeCap, {})
    const d = stored.digests
    const ok = await transition(c.db, id, ['importing'], { status: 'active', size: d.size, checksum: d.md5,
      os_hash_algo: 'sha512', os_hash_value: d.sha512, location: stored.location }, nowIso(c))
    if (!ok) {
      await c.store.delete(stored.location).catch(() => {})
      throw new Error('the image was deleted during the import')
    }
    if (staged) {
      await setProperty(c.db, id, STAGED_AT, null)
      await c.staging.delete(staged).catch(() => {})
    }
    await setProperty(c.db, id, IMPORTING, null)
    await setTask(c, taskId, 'success', { result: JSON.stringify({ image_id: id }) })
  } catch (err) {
    c.log.warn({ err, image: id, method }, 'image import failed')
    // Staged data stays, so a glance-direct import can be retried; a failed download starts over.
    const back = await transition(c.db, id, ['importing'], { status: method === 'glance-direct' && staged ? from as 'uploading' : 'queued',
      ...(method === 'glance-direct' ? {} : { size: null }) }, nowIso(c))
    if (back) {
      await setProperty(c.db, id, IMPORTING, null)
      await setProperty(c.db, id, FAILED, c.store.kind)
    }
    // fetch's own message ("fetch failed") hides the reason, which is in its cause.
    const cause = (err as { cause?: { message?: string } }).cause?.message
    await setTask(c, taskId, 'failure', { message: `${(err as Error).message}${cause ? `: ${cause}` : ''}` })
  }
}

/** Fetches a web-download URL, following redirects only to URLs that pass the same filter. */
async function fetchData(c: ImageCtx, uri: string): Promise<Readable> {
  let url = uri
  for (let hop = 0; hop < 5; hop++) {
    const ac = new AbortController()
    const timer = setTimeout(() => ac.abort(), 60_000)
    const res = await fetch(url, { redirect: 'manual', signal: ac.signal }).finally(() => clearTimeout(timer))
    if (res.status >= 300 && res.status < 400 && res.headers.get('location')) {
      await res.body?.cancel()
      url = new URL(res.headers.get('location')!, url).toString()
      if (!uriAllowed(c, url)) throw new Error(`redirect to ${url} does not pass the import filter`)
      continue
    }
    if (!res.ok || !res.body) throw new Error(`GET ${url} answered ${res.status}`)
    return Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>)
  }
  throw new Error(`too many redirects from ${uri}`)
}

/** The tasks of one image (GET /v2/images/{id}/tasks), as Glance's tasks_get_by_image. */
export async function imageTasks(c: ImageCtx, r: Req, id: string): Promise<TaskRow[]> {
  const { image, isMember } = await loadImage(c, r, id)
  r.policy.enforceImage('get_image', image, isMember)
  const now = nowIso(c)
  return (await c.db.selectFrom('tasks').selectAll().where('image_id', '=', id).orderBy('created_at').execute())
    .filter((t) => !t.expires_at || t.expires_at >= now)
}
