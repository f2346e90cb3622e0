// What the account and container servers share: path splitting and validation as Swift's
// split_path, the device check (507), X-Timestamp, listing parameters, metadata headers,
// responses and the mapping of errors to Swift's codes.
import { statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { Readable } from 'node:stream'
import { CloudError } from '../../core/errors.ts'
import type { BackendRequest, BackendResponse, StorageLogger } from './backend.ts'
import { DbError, type Metadata } from './db-broker.ts'
import type { ListParams } from './db-listing.ts'
import { type ReplicableBroker, type ReplicateHooks, replicateRpc } from './db-replicate.ts'
import { parseTs } from './db-timestamp.ts'
import { isTrue, titleCase } from './storage-util.ts'

/** Swift's limit on listing page size (CONTAINER_LISTING_LIMIT, ACCOUNT_LISTING_LIMIT). */
export const LISTING_LIMIT = 10000

/**
 * Swift's split_path on the decoded request path: `minsegs`..`maxsegs` non-empty segments, or
 * with `restWithLast` everything after the last one in a final segment (object names with '/').
 * The path arrives percent-encoded, as on the wire. DbError 400/412 when it is not valid.
 */
export function splitPath(rawPath: string, minsegs: number, maxsegs: number, restWithLast = false): Array<string | undefined> {
  let path: string
  try { path = decodeURIComponent(rawPath) } catch { throw new DbError(412, 'Invalid UTF8 or contains NULL') }
  const bad = () => new DbError(400, `Invalid path: ${rawPath}`)
  let segs: string[]
  const min = minsegs + 1
  const max = maxsegs + 1
  if (restWithLast) {
    segs = splitN(path, '/', maxsegs)
    if (segs[0] || segs.length < min || segs.length > max || segs.slice(1, min).includes('')) throw bad()
  } else {
    segs = splitN(path, '/', max)
    if (segs[0] || segs.length < min || segs.length > max + 1 || segs.slice(1, min).includes('') ||
      (segs.length === max + 1 && segs[max])) throw bad()
  }
  const out: Array<string | undefined> = segs.slice(1, max)
  if (out.slice(0, -1).some((s) => !s)) throw bad()
  while (out.length < max - 1) out.push(undefined)
  const [device, partition] = out
  if (!device || device.includes('/') || device === '.' || device === '..') throw new DbError(400, `Invalid device: ${device ?? ''}`)
  if (!partition || partition.includes('/') || partition === '.' || partition === '..') {
    throw new DbError(400, `Invalid partition: ${partition ?? ''}`)
  }
  return out
}

/** Python's str.split(sep, maxsplit). */
function splitN(s: string, sep: string, maxsplit: number): string[] {
  const out: string[] = []
  let start = 0
  while (out.length < maxsplit) {
    const i = s.indexOf(sep, start)
    if (i < 0) break
    out.push(s.slice(start, i))
    start = i + sep.length
  }
  out.push(s.slice(start))
  return out
}

/**
 * Checks a device is there (`mountCheck`: is a mount point) before touching it: 507 otherwise,
 * so a missing disk is not silently replaced by a directory on the root filesystem. Answers
 * are remembered for a second to keep stat calls off the hot path.
 */
export class DeviceChecker {
  private readonly cache = new Map<string, { ok: boolean; until: number }>()
  constructor(private readonly devices: string, private readonly mountCheck = false) {}

  /** Throws DbError 507 when the device is not usable. */
  check(device: string): void {
    const now = Date.now()
    const hit = this.cache.get(device)
    if (hit && hit.until > now) {
      if (!hit.ok) throw new DbError(507, `${device} is not mounted`)
      return
    }
    const ok = this.probe(device)
    this.cache.set(device, { ok, until: now + 1000 })
    if (!ok) throw new DbError(507, `${device} is not mounted`)
  }

  private probe(device: string): boolean {
    const path = join(this.devices, device)
    try {
      const st = statSync(path)
      if (!st.isDirectory()) return false
      if (!this.mountCheck) return true
      const parent = statSync(dirname(path))
      return parent.dev !== st.dev || parent.ino === st.ino
    } catch { return false }
  }
}

/** The request's X-Timestamp in internal form; DbError 400 when missing or invalid (valid_timestamp). */
export function requireTimestamp(headers: Record<string, string>): string {
  const raw = headers['x-timestamp']
  if (raw === undefined) throw new DbError(400, 'Missing X-Timestamp header')
  try { return parseTs(raw).internal } catch { throw new DbError(400, 'Invalid X-Timestamp header') }
}

/** A timestamp header in internal form, or a DbError 400 naming it. */
export function timestampHeader(headers: Record<string, string>, name: string): string {
  const raw = headers[name]
  if (raw === undefined) throw new DbError(400, `Missing ${name} header`)
  try { return parseTs(raw).internal } catch { throw new DbError(400, `Invalid ${name} header`) }
}

/** A non-negative integer header, or a DbError 400 naming it. */
export function intHeader(headers: Record<string, string>, name: string): number {
  const raw = headers[name]
  if (raw === undefined) throw new DbError(400, `Missing ${name} header`)
  if (!/^\s*\d+\s*$/.test(raw)) throw new DbError(400, `Invalid ${name} header`)
  return Number(raw)
}

/** Listing parameters from the query (validate_container_params): limit above 10000 is 412. */
export function listParams(query: URLSearchParams): ListParams {
  const limitRaw = query.get('limit')
  let limit = LISTING_LIMIT
  if (limitRaw && /^\d+$/.test(limitRaw)) {
    limit = Number(limitRaw)
    if (limit > LISTING_LIMIT) throw new DbError(412, `Maximum limit is ${LISTING_LIMIT}`)
  }
  const get = (k: string) => query.get(k) ?? undefined
  return {
    limit,
    marker: get('marker'),
    endMarker: get('end_marker'),
    prefix: get('prefix'),
    delimiter: get('delimiter'),
    path: get('path'),
    reverse: isTrue(query.get('reverse') ?? undefined),
  }
}

/**
 * Metadata headers of a request, stamped with its timestamp (Swift's _update_metadata):
 * X-<Type>-Meta-* and X-<Type>-Sysmeta-* with more than the prefix, and `saved` names.
 * X-Remove-<Type>-Meta-* (which Swift's proxy turns into empty values) is honoured here too.
 */
export function metadataFromHeaders(headers: Record<string, string>, type: 'account' | 'container',
                                    timestamp: string, saved: readonly string[] = []): Metadata {
  const meta = `x-${type}-meta-`
  const sys = `x-${type}-sysmeta-`
  const remove = `x-remove-${type}-meta-`
  const md: Metadata = {}
  for (const [k, v] of Object.entries(headers)) {
    if (saved.includes(k) || (k.length > meta.length && k.startsWith(meta)) || (k.length > sys.length && k.startsWith(sys))) {
      md[titleCase(k)] = [v, timestamp]
    }
  }
  for (const k of Object.keys(headers)) {
    if (k.length > remove.length && k.startsWith(remove)) {
      const key = titleCase(meta + k.slice(remove.length))
      if (!(key in md)) md[key] = ['', timestamp]
    }
  }
  return md
}

/** A response with no body. */
export function respond(status: number, headers: Record<string, string> = {}): BackendResponse {
  return { status, headers }
}

/** A text/plain response (Swift's error bodies). */
export function textResponse(status: number, text: string, headers: Record<string, string> = {}): BackendResponse {
  const body = Buffer.from(text, 'utf8')
  return { status, headers: { ...headers, 'content-type': 'text/plain; charset=utf-8', 'content-length': String(body.length) },
    body }
}

/**
 * Errors as Swift's codes: a DbError's or CloudError's status (timestamps throw CloudError 400),
 * 507 for a full disk; anything else is a 500, a bug, and is logged.
 */
export function errorResponse(err: unknown, logger: StorageLogger, req: { method: string; path: string }): BackendResponse {
  if (err instanceof DbError || err instanceof CloudError) return textResponse(err.status, err.message)
  const code = (err as { code?: string }).code
  if (code === 'SQLITE_FULL' || code === 'ENOSPC') {
    logger.error({ err, method: req.method, path: req.path }, 'disk full')
    return textResponse(507, 'Insufficient Storage')
  }
  logger.error({ err, method: req.method, path: req.path }, 'unexpected error')
  return textResponse(500, 'Internal Server Error')
}

/** Reads a JSON request body (REPLICATE, UPDATE), at most `maxBytes`; DbError 400/413. */
export async function readJsonBody(body: Readable | undefined, maxBytes = 64 * 1024 * 1024): Promise<unknown> {
  if (!body) throw new DbError(400, 'Missing body')
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk as Buffer
    size += b.length
    if (size > maxBytes) throw new DbError(413, 'Request Entity Too Large')
    chunks.push(b)
  }
  try { return JSON.parse(Buffer.concat(chunks).toString('utf8')) } catch (err) {
    throw new DbError(400, `Invalid JSON body: ${(err as Error).message}`)
  }
}

/** REPLICATE `/<device>/<partition>/<hash>` with a JSON body: the DB replication RPC, for either server. */
export async function replicateRequest<B extends ReplicableBroker<Item>, Item>(req: BackendRequest,
    devices: DeviceChecker, hooks: ReplicateHooks<B, Item>): Promise<BackendResponse> {
  const [device, part, hash] = splitPath(req.path, 3, 3) as string[]
  devices.check(device!)
  return replicateRpc(hooks, device!, part!, hash!, await readJsonBody(req.body))
}
