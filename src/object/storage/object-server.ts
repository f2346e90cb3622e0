// The object server (Swift's obj/server.py) as a BackendHandler:
//   PUT|GET|HEAD|POST|DELETE /<device>/<partition>/<account>/<container>/<object>
//   REPLICATE /<device>/<partition>[/<suffix>-<suffix>…]
// Object bytes and metadata go through ObjectDisk; container listings are kept current by
// container updates (container-update.ts) with async_pending as the fallback.
import { Timestamp } from '../ring/timestamp.ts'
import { type HashConfig, hashPath } from '../ring/hash.ts'
import { type BackendHandler, type BackendRequest, type BackendResponse, type BackendTarget, type StorageLogger, lowerHeaders } from './backend.ts'
import { type ContainerUpdate, type ContainerUpdater, backendContainerUpdater, containerTargets, sendContainerUpdates } from './container-update.ts'
import { writeAsyncPending } from './async-pending.ts'
import { EtagMismatchError, LongBodyError, type ObjectDisk, type ObjectLocation, type ObjectMetadata, ShortBodyError, createObjectDisk } from './diskfile.ts'
import { type ReadPolicy, objectHeaders, parseMatch, readResponse } from './object-read.ts'
import {
  DEFAULT_ALLOWED_HEADERS, MAX_FILE_SIZE, MAX_OBJECT_NAME_LENGTH, Reply, checkDeleteHeaders, checkMetadata, isObjectMeta,
  messageLength, policyIndex, reply, requestMetadata, splitPath,
} from './object-request.ts'
import { isTrue } from './storage-util.ts'

/** Options of the object server. */
export interface ObjectServerOptions {
  /** Directory holding one directory per device (Swift's `devices`). */
  devicesRoot: string
  /** Require devices to be mount points (Swift's mount_check). Default false. */
  mountCheck?: boolean
  /** The cluster's hash_path prefix/suffix. */
  hashConfig: HashConfig
  /** Sends container updates; default: the backend protocol to `containerRoute(host)` or http://<host>. */
  containerUpdate?: ContainerUpdater
  /** Where the default updater reaches a container server ("ip:port" → in-process handler or URL). */
  containerRoute?: (host: string) => BackendTarget
  /** How long a write waits for its container updates (Swift's container_update_timeout). Default 1000 ms. */
  containerUpdateTimeoutMs?: number
  logger?: StorageLogger
  /** The disk layer, to share with the replicator and auditor; built from devicesRoot by default. */
  disk?: ObjectDisk
  /** Extra headers objects keep (Swift's allowed_headers). */
  allowedHeaders?: readonly string[]
  /** Valid storage policy indexes; default: any. */
  policies?: readonly number[]
  /** Largest object accepted (Swift's max_file_size). */
  maxFileSize?: number
  /** Percent of complete GETs whose md5 is checked as they stream (Swift's etag_validate_pct). Default 100. */
  etagValidatePct?: number
  /**
   * Complete GETs of objects larger than this are not md5-checked inline (default 32 MiB): MD5
   * runs at ~0.5–0.8 GB/s per core, below the ≥1 GB/s single-stream goal; the auditor still
   * checks every byte. Set to Infinity to check all.
   */
  etagValidateMaxBytes?: number
  /** Seconds before tombstones are reclaimed (Swift's reclaim_age). */
  reclaimAge?: number
  /** Clock in ms (tests). */
  now?: () => number
}

/** What a verb handler gets: the parsed request. */
interface ObjectRequest {
  req: BackendRequest
  headers: Record<string, string>
  loc: ObjectLocation
  account: string
  container: string
  obj: string
  /** "/a/c/o": stored as the object's `name`. */
  name: string
}

/** Builds the object server. */
export function createObjectServer(opts: ObjectServerOptions): BackendHandler {
  const log = opts.logger
  const now = opts.now ?? Date.now
  const disk = opts.disk ?? createObjectDisk({ devicesRoot: opts.devicesRoot, mountCheck: opts.mountCheck, reclaimAge: opts.reclaimAge, logger: log, now })
  const allowed = new Set((opts.allowedHeaders ?? DEFAULT_ALLOWED_HEADERS).map((h) => h.toLowerCase()))
  for (const reserved of ['content-length', 'deleted', 'etag']) allowed.delete(reserved)
  const maxFileSize = opts.maxFileSize ?? MAX_FILE_SIZE
  const readPolicy: ReadPolicy = {
    etagValidatePct: opts.etagValidatePct ?? 100,
    etagValidateMaxBytes: opts.etagValidateMaxBytes ?? 32 * 1024 * 1024,
  }
  const updater = opts.containerUpdate ?? backendContainerUpdater({ route: opts.containerRoute })
  const servedHeader = (lk: string) => isObjectMeta(lk) || allowed.has(lk)

  const requestTs = (headers: Record<string, string>): Timestamp => {
    const v = headers['x-timestamp']
    if (v === undefined) throw new Reply(reply(400, {}, 'Missing X-Timestamp header'))
    try { return new Timestamp(v) } catch { throw new Reply(reply(400, {}, 'Invalid X-Timestamp header')) }
  }

  /** Swift's ensure_x_timestamp: the request's own time for expiry checks, else now. */
  const currentTime = (headers: Record<string, string>): number => {
    try { return headers['x-timestamp'] ? new Timestamp(headers['x-timestamp']).seconds : now() / 1000 } catch { return now() / 1000 }
  }

  const isExpired = (md: ObjectMetadata, nowSec: number) => md['X-Delete-At'] !== undefined && Number(md['X-Delete-At']) <= nowSec
  const openExpired = (h: Record<string, string>) => isTrue(h['x-backend-open-expired']) || isTrue(h['x-backend-replication'])

  async function parse(req: BackendRequest, headers: Record<string, string>): Promise<ObjectRequest> {
    // Reserved (NUL-prefixed) names come only from the proxy's internal requests and replication.
    const allowReserved = isTrue(headers['x-backend-allow-reserved-names']) || isTrue(headers['x-backend-replication'])
    const [device, partition, account, container, obj] = splitPath(req.path, 5, 5, allowReserved)
    const policy = policyIndex(headers, opts.policies)
    if (!(await disk.devicePath(device))) throw new Reply(reply(507, {}, `${device} is not mounted`))
    const hash = hashPath(opts.hashConfig, account, container, obj)
    return { req, headers, loc: { device, partition, policy, hash }, account, container, obj, name: `/${account}/${container}/${obj}` }
  }

  async function updateContainer(r: ObjectRequest, op: 'PUT' | 'DELETE', rowHeaders: Record<string, string>): Promise<void> {
    if (isTrue(r.headers['x-backend-replication'])) return
    const targets = containerTargets(r.headers, log)
    if (!targets) return
    const update: ContainerUpdate = {
      op, account: r.account, container: r.container, obj: r.obj,
      headers: {
        ...rowHeaders,
        'x-trans-id': r.headers['x-trans-id'] ?? '-',
        referer: `${r.req.method} ${r.req.path}`,
        'x-backend-storage-policy-index': String(r.loc.policy),
        'user-agent': `object-server ${process.pid}`,
      },
    }
    const devicePath = await disk.devicePath(r.loc.device)
    await sendContainerUpdates({
      updater, timeoutMs: opts.containerUpdateTimeoutMs ?? 1000, log,
      savePending: async (failed, u) => {
        if (!devicePath) throw new Error(`device ${r.loc.device} went away`)
        await writeAsyncPending({ devicePath, policy: r.loc.policy, hash: r.loc.hash, partition: failed[0].partition, update: u, targets: failed })
      },
    }, targets, update)
  }

  /** Container-update overrides (x-object-sysmeta-container-update-override-*, x-backend-container-update-override-*). */
  function applyOverrides(row: Record<string, string>, source: Record<string, string>): void {
    for (const prefix of ['x-backend-container-update-override-', 'x-object-sysmeta-container-update-override-']) {
      for (const k in source) {
        const lk = k.toLowerCase()
        if (lk.startsWith(prefix)) row['x-' + lk.slice(prefix.length)] = source[k]
      }
    }
  }

  async function put(r: ObjectRequest): Promise<BackendResponse> {
    const h = r.headers
    const ts = requestTs(h)
    const length = messageLength(h, maxFileSize)
    if (r.obj.length > MAX_OBJECT_NAME_LENGTH) return reply(400, {}, `Object name length of ${r.obj.length} longer than ${MAX_OBJECT_NAME_LENGTH}`)
    if (h['content-type'] === undefined) return reply(400, {}, 'No content type')
    const replication = isTrue(h['x-backend-replication'])
    checkDeleteHeaders(h, ts.seconds, replication)
    checkMetadata(h)
    // What is there now: only the newest timestamp matters, unless If-None-Match asks about the ETag.
    let origTs = Timestamp.zero()
    const state = await disk.open(r.loc, { name: r.name, blocking: true })
    if (state.status === 'ok') {
      const o = state.object
      const expired = isExpired(o.metadata, ts.seconds)
      origTs = expired ? o.timestamp : o.dataTimestamp
      const inm = parseMatch(h['if-none-match'])
      await o.close()
      if (inm && !expired && (inm.has('*') || inm.has(o.etag))) return reply(412)
    } else if (state.status === 'deleted') {
      origTs = state.timestamp
    } else if (state.status === 'collision') {
      return reply(403)
    }
    if (origTs.compare(ts) >= 0) return reply(409, { 'x-backend-timestamp': origTs.internal })

    const metadata: ObjectMetadata = {
      'X-Timestamp': ts.internal,
      'Content-Type': h['content-type'],
      name: r.name,
      ...requestMetadata(h, allowed, true),
    }
    const etagHeader = h.etag?.replace(/^"(.*)"$/, '$1')
    let written
    try {
      written = await disk.writeData(r.loc, { timestamp: ts, metadata, body: r.req.body, contentLength: length, etag: etagHeader || undefined })
    } catch (err) {
      if (err instanceof EtagMismatchError) return reply(422, {}, 'Unprocessable Entity')
      if (err instanceof ShortBodyError) return reply(499, {}, 'Client Disconnect')
      if (err instanceof LongBodyError) return reply(400, {}, 'Body longer than Content-Length')
      const code = (err as NodeJS.ErrnoException)?.code
      if (code === 'ENOSPC' || code === 'EDQUOT') return reply(507, {}, `${r.loc.device} is full`)
      if (code === 'ETIMEDOUT') return reply(408, {}, 'Request Timeout')
      if (r.req.body && (r.req.body.destroyed || code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || (err as Error)?.message === 'aborted')) {
        return reply(499, {}, 'Client Disconnect')
      }
      throw err
    }
    const row: Record<string, string> = {
      'x-size': String(written.size), 'x-content-type': h['content-type'], 'x-timestamp': ts.internal, 'x-etag': written.etag,
    }
    applyOverrides(row, h)
    await updateContainer(r, 'PUT', row)
    return reply(201, { etag: `"${written.etag}"` })
  }

  async function getOrHead(r: ObjectRequest, method: 'GET' | 'HEAD'): Promise<BackendResponse> {
    const h = r.headers
    const state = await disk.open(r.loc, { name: r.name, blocking: true })
    const notFound = (headers: Record<string, string> = {}) =>
      h['if-match'] !== undefined && parseMatch(h['if-match'])?.has('*') ? reply(412, headers) : reply(404, headers)
    switch (state.status) {
      case 'ok': break
      case 'deleted': return notFound({ 'x-backend-timestamp': state.timestamp.internal })
      case 'collision': return reply(403)
      case 'changed': return reply(503)
      default: return notFound()
    }
    const o = state.object
    if (!openExpired(h) && isExpired(o.metadata, currentTime(h))) {
      await o.close()
      return notFound({ 'x-backend-timestamp': o.timestamp.internal })
    }
    return readResponse(method, h, o, objectHeaders(o, servedHeader), readPolicy)
  }

  async function post(r: ObjectRequest): Promise<BackendResponse> {
    const h = r.headers
    const ts = requestTs(h)
    const del = h['x-delete-at']
    if (del !== undefined && del !== '') {
      if (!/^\d+$/.test(del.trim())) return reply(400, {}, 'Non-integer X-Delete-At')
      if (Number(del) < ts.seconds) return reply(400, {}, 'X-Delete-At in past')
    }
    checkMetadata(h)
    let reqCtypeTs = Timestamp.zero()
    if (h['content-type']) {
      try { reqCtypeTs = new Timestamp(h['content-type-timestamp'] ?? ts.internal) } catch { return reply(400, {}, 'Invalid Content-Type-Timestamp') }
    }
    const state = await disk.open(r.loc, { name: r.name, blocking: true })
    if (state.status === 'collision') return reply(403)
    if (state.status === 'changed') return reply(503)
    if (state.status !== 'ok') return reply(404)
    const o = state.object
    await o.close()
    if (isExpired(o.metadata, ts.seconds) && !openExpired(h)) return reply(404)
    const origTs = o.timestamp
    const origCtypeTs = o.contentTypeTimestamp
    if (origTs.compare(ts) >= 0 && origCtypeTs.compare(reqCtypeTs) >= 0) return reply(409, { 'x-backend-timestamp': origTs.internal })

    let metadata: ObjectMetadata
    if (ts.compare(origTs) > 0) {
      metadata = { 'X-Timestamp': ts.internal, name: r.name, ...requestMetadata(h, allowed, false) }
    } else {
      // Only a newer Content-Type arrived: keep the current .meta contents.
      metadata = { ...(o.metaMetadata ?? {}), name: r.name }
    }
    let ctype: { 'Content-Type': string; 'Content-Type-Timestamp': string }
    if (reqCtypeTs.compare(origCtypeTs) > 0) {
      ctype = { 'Content-Type': h['content-type'], 'Content-Type-Timestamp': reqCtypeTs.internal }
      Object.assign(metadata, ctype)
    } else {
      ctype = { 'Content-Type': o.metadata['Content-Type'] ?? '', 'Content-Type-Timestamp': origCtypeTs.internal }
      if (origCtypeTs.compare(o.dataTimestamp) !== 0) Object.assign(metadata, ctype)
    }
    await disk.writeMeta(r.loc, new Timestamp(metadata['X-Timestamp']), metadata)
    const row: Record<string, string> = {
      'x-size': o.dataMetadata['Content-Length'], 'x-content-type': ctype['Content-Type'],
      'x-timestamp': o.dataTimestamp.internal, 'x-content-type-timestamp': ctype['Content-Type-Timestamp'],
      'x-meta-timestamp': metadata['X-Timestamp'], 'x-etag': o.etag,
    }
    applyOverrides(row, o.dataMetadata)
    await updateContainer(r, 'PUT', row) // object POSTs are container PUTs
    const out: Record<string, string> = { 'x-backend-content-type': ctype['Content-Type'] }
    for (const k in o.dataMetadata) if (k.toLowerCase().startsWith('x-object-sysmeta-')) out[k.toLowerCase()] = o.dataMetadata[k]
    return reply(202, out)
  }

  async function del(r: ObjectRequest): Promise<BackendResponse> {
    const h = r.headers
    const ts = requestTs(h)
    const state = await disk.open(r.loc, { name: r.name, blocking: true })
    let origTs = Timestamp.zero()
    let origMd: ObjectMetadata = {}
    let status: number
    if (state.status === 'ok') {
      const o = state.object
      await o.close()
      if (isExpired(o.metadata, ts.seconds)) {
        origTs = o.timestamp
        origMd = o.metadata
        status = 404
      } else {
        origTs = o.dataTimestamp
        origMd = o.metadata
        status = origTs.compare(ts) < 0 ? 204 : 409
      }
    } else if (state.status === 'deleted') {
      origTs = state.timestamp
      status = 404
    } else if (state.status === 'collision') {
      return reply(403)
    } else if (state.status === 'changed') {
      return reply(503)
    } else {
      status = 404
    }
    const responseTs = origTs.compare(ts) > 0 ? origTs : ts
    const ifDeleteAt = h['x-if-delete-at']
    if (ifDeleteAt !== undefined) {
      let want: Timestamp
      try { want = new Timestamp(ifDeleteAt) } catch { return reply(400, {}, 'Bad X-If-Delete-At header value') }
      if (origTs.raw === 0 && origTs.offset === 0n) return reply(404)
      if (origTs.compare(ts) >= 0) return reply(409)
      const have = new Timestamp(origMd['X-Delete-At'] || 0)
      if (!have.equals(want)) return reply(412, {}, 'X-If-Delete-At and X-Delete-At do not match')
      status = 204
    }
    if (origTs.compare(ts) < 0) {
      await disk.writeTombstone(r.loc, ts, { name: r.name })
      await updateContainer(r, 'DELETE', { 'x-timestamp': ts.internal })
    }
    return reply(status, { 'x-backend-timestamp': responseTs.internal, 'x-backend-content-type': origMd['Content-Type'] ?? '' })
  }

  async function replicate(req: BackendRequest, headers: Record<string, string>): Promise<BackendResponse> {
    const [device, partition, suffixPart] = splitPath(req.path, 2, 3)
    const policy = policyIndex(headers, opts.policies)
    if (!(await disk.devicePath(device))) return reply(507, {}, `${device} is not mounted`)
    const suffixes = suffixPart ? suffixPart.split('-') : []
    const hashes = await disk.getHashes(device, policy, partition, { recalculate: suffixes })
    const body = Buffer.from(JSON.stringify(hashes))
    return { status: 200, headers: { 'content-type': 'application/json', 'content-length': String(body.length) }, body }
  }

  return async function objectServer(req: BackendRequest): Promise<BackendResponse> {
    const headers = { ...lowerHeaders(req.headers) } // checks may add/normalize headers
    try {
      switch (req.method) {
        case 'PUT': return await put(await parse(req, headers))
        case 'GET': return await getOrHead(await parse(req, headers), 'GET')
        case 'HEAD': return await getOrHead(await parse(req, headers), 'HEAD')
        case 'POST': return await post(await parse(req, headers))
        case 'DELETE': return await del(await parse(req, headers))
        case 'REPLICATE': return await replicate(req, headers)
        default: return reply(405, { allow: 'PUT, GET, HEAD, POST, DELETE, REPLICATE' })
      }
    } catch (err) {
      if (err instanceof Reply) return err.response
      const code = (err as NodeJS.ErrnoException)?.code
      if (code === 'ENOSPC' || code === 'EDQUOT') return reply(507, {}, 'Insufficient Storage')
      log?.error({ err, method: req.method, path: req.path }, 'object server error')
      throw err
    }
  }
}
