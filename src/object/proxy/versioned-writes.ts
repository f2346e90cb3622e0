// Swift's legacy object versioning (versioned_writes/legacy.py), as a middleware. A container
// names an archive container in the same account:
// - X-Versions-Location (stack mode): a PUT (or COPY) over an existing object first copies it to
//   `<archive>/<3-hex length><name>/<timestamp>`; a DELETE pops the newest archived copy back
//   into place (several DELETEs empty the stack).
// - X-History-Location (history mode): PUTs archive the same way; a DELETE archives the current
//   object, writes a zero-byte delete marker to the archive, then deletes.
// The flag is kept as container sysmeta (versions-location, versions-mode) and shown back to
// clients under the header they set. The archive container must exist (otherwise writes to the
// versioned container fail with 412); archive writes are made by the proxy on behalf of a
// caller who may write the versioned container, as Swift's pre-authed requests.
import type { BackendResponse } from '../storage/backend.ts'
import { Timestamp } from '../ring/timestamp.ts'
import { CONSTRAINTS } from './constraints.ts'
import { type ProxyContext, checkAccess } from './context.ts'
import { loadAccountAcl } from './object-versioning-io.ts'
import { SwiftError } from './errors.ts'
import {
  type ListingRow, type Place, bodyStream, copyableHeaders, isFound, listAs, objectWriteAs, postContainerSysmeta, readAs,
  release, writeAs,
} from './object-versioning-io.ts'
import {
  DELETE_MARKER_CONTENT_TYPE, SYSMETA_VERSIONS_LOC, SYSMETA_VERSIONS_MODE, legacyVersionName, legacyVersionsPrefix,
} from './object-versioning-names.ts'
import type { Middleware, SwiftHandler } from './pipeline.ts'
import { answerBody } from './headers.ts'
import type { ClientAnswer, SwiftRequest } from './request.ts'

const VERSIONS_LOC = 'x-versions-location'
const HISTORY_LOC = 'x-history-location'
const REMOVE_VERSIONS = 'x-remove-versions-location'
const REMOVE_HISTORY = 'x-remove-history-location'
const SOURCE = 'VW'

/** The legacy versioning middleware (Swift's versioned_writes with allow_versioned_writes = true). */
export function versionedWrites(): Middleware {
  return {
    name: 'versioned_writes',
    info: () => ({ allowed_flags: [VERSIONS_LOC, HISTORY_LOC] }),
    wrap(next, ctx) {
      return async (req) => {
        if (req.container === undefined) return next(req)
        if (req.obj === undefined) return containerRequest(ctx, next, req)
        // COPY reaches here as a PUT: the copy middleware sits to the left, as in Swift.
        if (req.method === 'PUT' || req.method === 'DELETE') return objectRequest(ctx, next, req)
        return next(req)
      }
    },
  }
}

/** Swift's check_container_format on the header value. */
function checkContainerFormat(name: string): void {
  if (!name) throw SwiftError.text(412, 'Container name cannot be empty')
  if (name.includes('/')) throw SwiftError.text(412, 'Container name cannot contain slashes')
}

/** The sysmeta a container request sets (undefined: none), after Swift's header rules; the client headers are removed. */
export function legacySysmeta(h: Record<string, string>): Record<string, string> | undefined {
  if (h[VERSIONS_LOC] !== undefined && h[HISTORY_LOC] !== undefined) {
    if (!h[HISTORY_LOC]) delete h[HISTORY_LOC] // defer to the versions location entirely
    else if (h[VERSIONS_LOC]) throw SwiftError.text(400, `Only one of ${VERSIONS_LOC} or ${HISTORY_LOC} may be specified`)
    else delete h[VERSIONS_LOC]
  }
  let sysmeta: Record<string, string> | undefined
  const given = h[VERSIONS_LOC] !== undefined ? VERSIONS_LOC : h[HISTORY_LOC] !== undefined ? HISTORY_LOC : undefined
  if (given) {
    const value = h[given]!
    if (!value) {
      h[REMOVE_VERSIONS] = 'x' // an empty value is X-Remove-Versions-Location
    } else {
      checkContainerFormat(value)
      sysmeta = { [SYSMETA_VERSIONS_LOC]: value, [SYSMETA_VERSIONS_MODE]: given === VERSIONS_LOC ? 'stack' : 'history' }
      // Setting a location wins over removing one in the same request.
      delete h[REMOVE_VERSIONS]
      delete h[REMOVE_HISTORY]
    }
  }
  if (h[REMOVE_VERSIONS] || h[REMOVE_HISTORY]) sysmeta = { [SYSMETA_VERSIONS_LOC]: '', [SYSMETA_VERSIONS_MODE]: '' }
  for (const k of [VERSIONS_LOC, HISTORY_LOC, REMOVE_VERSIONS, REMOVE_HISTORY]) delete h[k]
  return sysmeta
}

async function containerRequest(ctx: ProxyContext, next: SwiftHandler, req: SwiftRequest): Promise<ClientAnswer> {
  const writes = req.method === 'PUT' || req.method === 'POST'
  const sysmeta = legacySysmeta(req.headers)
  const answer = await next(req)
  if (!isFound(answer.status)) return answer
  if (writes && sysmeta) {
    // The container controller keeps no sysmeta from a request: set it on the replicas after.
    const status = await postContainerSysmeta(ctx, req, req.account, req.container!, sysmeta, SOURCE)
    if (!isFound(status)) throw SwiftError.status(503)
  } else if (req.method === 'GET' || req.method === 'HEAD') {
    // The controller has just cached the answer it read: its sysmeta says what to show.
    const ci = await ctx.infos.container(req.account, req.container!)
    const location = ci.headers[SYSMETA_VERSIONS_LOC]
    if (location) answer.headers[ci.headers[SYSMETA_VERSIONS_MODE] === 'history' ? HISTORY_LOC : VERSIONS_LOC] = location
  }
  return answer
}

function safeUnquote(s: string): string {
  try { return decodeURIComponent(s) } catch { return s }
}

async function objectRequest(ctx: ProxyContext, next: SwiftHandler, req: SwiftRequest): Promise<ClientAnswer> {
  const place = { account: req.account, container: req.container!, obj: req.obj! }
  const ci = await ctx.infos.container(place.account, place.container)
  const location = ci.headers[SYSMETA_VERSIONS_LOC]
  if (!location) return next(req)
  const archive = safeUnquote(location).split('/')[0]!
  const vw: Versioned = { ctx, req, place, archive, writeAcl: ci.writeAcl }
  if (req.method === 'PUT') {
    await copyCurrent(vw)
    return next(req)
  }
  if (ci.headers[SYSMETA_VERSIONS_MODE] === 'history') {
    await copyCurrent(vw)
    const marker = await writeAs(ctx, req, { ...place, container: archive, obj: legacyVersionName(place.obj, ctx.now()) },
      { headers: { 'content-type': DELETE_MARKER_CONTENT_TYPE }, timestamp: ctx.now(), contentLength: 0 }, SOURCE)
    checkStep(marker.status)
    return next(req)
  }
  return deletePop(vw, next)
}

/** A versioned object and its archive container. */
interface Versioned { ctx: ProxyContext; req: SwiftRequest; place: Place; archive: string; writeAcl?: string }

/** Swift's _check_response_error: a client error (missing archive, no access) is 412, anything else 503. */
function checkStep(status: number): void {
  if (isFound(status)) return
  throw SwiftError.status(status >= 400 && status < 500 ? 412 : 503)
}

/** The caller must be able to write the versioned container before anything is archived. */
async function authorize(vw: Versioned): Promise<void> {
  await loadAccountAcl(vw.ctx, vw.req)
  checkAccess(vw.ctx, { ...vw.req, owner: false }, vw.writeAcl)
}

/** Reads `from` for a copy; undefined when it does not exist. */
async function openSource(vw: Versioned, from: Place): Promise<BackendResponse | undefined> {
  const src = await readAs(vw.ctx, vw.req, from, 'GET', {}, { newest: true, source: SOURCE })
  if (src.status === 404) { release(src); return undefined }
  if (!isFound(src.status)) { release(src); checkStep(src.status) }
  return src
}

/** Stores an open source's body and stored headers at `to`. */
async function copyTo(vw: Versioned, src: BackendResponse, to: Place): Promise<void> {
  const length = src.headers['content-length'] === undefined ? NaN : Number(src.headers['content-length'])
  if (!Number.isFinite(length) || length > CONSTRAINTS.max_file_size) {
    release(src)
    throw SwiftError.status(413)
  }
  const put = await writeAs(vw.ctx, vw.req, to, { headers: copyableHeaders(src.headers), timestamp: vw.ctx.now(),
    body: bodyStream(src), contentLength: length }, SOURCE)
  release(src)
  checkStep(put.status)
}

/** Archives the current object, if there is one, as `<archive>/<len><name>/<its timestamp>`. */
async function copyCurrent(vw: Versioned): Promise<void> {
  await authorize(vw)
  const src = await openSource(vw, vw.place)
  if (!src) return
  const ts = src.headers['x-timestamp'] ?? String(Date.parse(src.headers['last-modified'] ?? '') / 1000)
  let name: string
  try { name = legacyVersionName(vw.place.obj, new Timestamp(ts)) } catch (err) { release(src); throw err }
  await copyTo(vw, src, { ...vw.place, container: vw.archive, obj: name })
}

/** Restores an archived copy in place of the object; false when it has gone. */
async function restore(vw: Versioned, name: string): Promise<boolean> {
  const src = await openSource(vw, { ...vw.place, container: vw.archive, obj: name })
  if (!src) return false
  await copyTo(vw, src, vw.place)
  return true
}

/** The archive's entries for the object, newest first, page by page. */
async function* archived(vw: Versioned): AsyncGenerator<ListingRow> {
  const prefix = legacyVersionsPrefix(vw.place.obj)
  let marker = ''
  for (;;) {
    const page = await listAs(vw.ctx, vw.req, vw.place.account, vw.archive, { prefix, marker, reverse: 'on' },
      { reserved: false, source: SOURCE })
    if (page.status === 404) return
    if (!isFound(page.status)) throw SwiftError.status(page.status >= 400 && page.status < 500 ? 412 : 503)
    const rows = page.rows.filter((r) => r.name !== undefined)
    if (!rows.length) return
    yield* rows
    marker = rows[rows.length - 1]!.name!
  }
}

/** Deletes an archived entry (the DELETE the client's request became); its answer for the client. */
async function deleteArchived(vw: Versioned, name: string): Promise<ClientAnswer> {
  const a = await objectWriteAs(vw.ctx, vw.req, { ...vw.place, container: vw.archive, obj: name }, 'DELETE', {},
    vw.ctx.now(), SOURCE)
  const { body, contentType } = answerBody(a)
  return { status: a.status, headers: contentType ? { 'content-type': contentType } : {}, body }
}

/** Stack mode DELETE: the newest archived version is restored in place of the current one. */
async function deletePop(vw: Versioned, next: SwiftHandler): Promise<ClientAnswer> {
  const items = archived(vw)
  let authed = false
  for await (const previous of items) {
    if (!authed) { await authorize(vw); authed = true }
    if (previous.content_type === DELETE_MARKER_CONTENT_TYPE) {
      // A marker on top: is there data in the container anyway (written after the marker)?
      const head = await readAs(vw.ctx, vw.req, vw.place, 'HEAD', {}, { newest: true, source: SOURCE })
      if (head.status !== 404) {
        checkStep(head.status)
        break // let the delete through: back to the delete-marker state
      }
      for await (const toRestore of items) {
        if (toRestore.content_type === DELETE_MARKER_CONTENT_TYPE) break // nothing to restore
        if (!(await restore(vw, toRestore.name!))) continue
        const del = await deleteArchived(vw, toRestore.name!)
        // Gone already: it existed long enough to be copied back.
        if (del.status !== 404) checkStep(del.status)
        break
      }
      return deleteArchived(vw, previous.name!) // the marker itself goes
    }
    if (!(await restore(vw, previous.name!))) continue
    return deleteArchived(vw, previous.name!)
  }
  return next(vw.req)
}
