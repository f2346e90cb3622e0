// Pushes one object's newest state to a peer over the backend protocol: what Swift's ssync
// sender does per object (missing_check, then PUT/POST/DELETE with X-Backend-Replication).
//
// A HEAD (with X-Backend-Replication, so expired objects are seen too) tells what the peer has;
// then only what is newer here goes out:
//   .data → PUT with the stored metadata (X-Backend-Replication-Headers names the headers to
//           keep), X-Timestamp = the data file's time and the ETag the peer must verify;
//   .meta → POST with the .meta's metadata at its own X-Timestamp (and Content-Type with
//           Content-Type-Timestamp when a POST changed it);
//   .ts   → DELETE with X-Timestamp = the tombstone's time.
// Replication requests make no container updates (the object server skips them).
import { Readable } from 'node:stream'
import { Timestamp } from '../ring/timestamp.ts'
import { type BackendResponse, type BackendTarget, callBackend, drainBody } from '../storage/backend.ts'
import { quotePath } from '../storage/container-update.ts'
import type { ObjectDisk, ObjectLocation, OpenObject } from '../storage/diskfile.ts'
import { makeFilename } from '../storage/ondisk.ts'

/** Where a push goes: a peer device (the same partition and policy as the local copy). */
export interface PushPeer {
  target: BackendTarget
  device: string
  timeoutMs: number
}

/**
 * The outcome for one object: `ok` (the peer has this state or newer), `failed` (try again next
 * pass), `unmounted` (the peer device answered 507: use a handoff). `sent` counts requests that
 * changed the peer; `quarantined` is set when the local copy turned out corrupt while reading.
 */
export interface PushResult {
  status: 'ok' | 'failed' | 'unmounted'
  sent: number
  quarantined?: boolean
  error?: string
}

/** Metadata keys that are the server's to set from the request itself, never copied as headers. */
const NOT_COPIED = new Set(['x-timestamp', 'name', 'etag', 'content-length', 'content-type', 'deleted', 'content-type-timestamp'])

/** What the peer holds, from its HEAD answer. */
interface PeerState { data?: Timestamp; merged?: Timestamp; tombstone?: Timestamp }

function tsHeader(v: string | undefined): Timestamp | undefined {
  if (!v) return undefined
  try { return new Timestamp(v) } catch { return undefined }
}

const newer = (a: Timestamp, b: Timestamp | undefined) => b === undefined || a.compare(b) > 0

/** Object path on a peer device: /<device>/<partition>/<account>/<container>/<object>. */
export function objectPath(device: string, partition: string, name: string): string {
  return `/${quotePath(device)}/${quotePath(partition)}${quotePath(name)}`
}

/** Stored metadata as request headers, with the list of names the peer should store. */
function metadataHeaders(md: Record<string, string>, into: Record<string, string>): void {
  const names: string[] = []
  for (const k in md) {
    const lk = k.toLowerCase()
    if (NOT_COPIED.has(lk)) continue
    into[lk] = md[k]
    names.push(lk)
  }
  into['x-backend-replication-headers'] = names.join(' ')
}

async function send(peer: PushPeer, method: string, path: string, headers: Record<string, string>, body?: Readable | Buffer): Promise<BackendResponse> {
  const resp = await callBackend(peer.target, { method, path, headers, body }, { timeoutMs: peer.timeoutMs })
  drainBody(resp)
  return resp
}

function fail(status: number, what: string): PushResult {
  return status === 507 ? { status: 'unmounted', sent: 0 } : { status: 'failed', sent: 0, error: `${what} got ${status}` }
}

/** Pushes the object at `loc` (its newest state after cleanup) to `peer`. Never throws for HTTP errors. */
export async function pushObject(disk: ObjectDisk, loc: ObjectLocation, peer: PushPeer): Promise<PushResult> {
  const state = await disk.open(loc)
  switch (state.status) {
    case 'missing': return { status: 'ok', sent: 0 }
    case 'quarantined': return { status: 'ok', sent: 0, quarantined: true }
    case 'changed': return { status: 'failed', sent: 0, error: 'object kept changing while opened' }
    case 'collision': return { status: 'failed', sent: 0, error: 'hash collision' }
    case 'deleted': return pushTombstone(disk, loc, peer, state.timestamp)
    case 'ok': {
      try { return await pushData(loc, peer, state.object) } finally { await state.object.close() }
    }
  }
}

const baseHeaders = (loc: ObjectLocation): Record<string, string> =>
  ({ 'x-backend-replication': 'true', 'x-backend-storage-policy-index': String(loc.policy) })

async function peerState(loc: ObjectLocation, peer: PushPeer, path: string): Promise<PeerState | PushResult> {
  const r = await send(peer, 'HEAD', path, baseHeaders(loc))
  if (r.status >= 200 && r.status < 300) {
    return { data: tsHeader(r.headers['x-backend-data-timestamp']), merged: tsHeader(r.headers['x-backend-timestamp']) }
  }
  if (r.status === 404) return { tombstone: tsHeader(r.headers['x-backend-timestamp']) }
  return fail(r.status, 'HEAD')
}

async function pushTombstone(disk: ObjectDisk, loc: ObjectLocation, peer: PushPeer, ts: Timestamp): Promise<PushResult> {
  const md = await disk.readMetadata(loc, makeFilename(ts, '.ts'))
  if (!md.name) return { status: 'failed', sent: 0, error: 'tombstone without a name' }
  const path = objectPath(peer.device, loc.partition, md.name)
  const remote = await peerState(loc, peer, path)
  if ('status' in remote) return remote
  // A peer whose data or tombstone is at or after the tombstone's time wins over it (a newer
  // .meta alone does not: the object server decides by the data file's time, as Swift).
  if (!newer(ts, remote.data) || !newer(ts, remote.tombstone)) return { status: 'ok', sent: 0 }
  const r = await send(peer, 'DELETE', path, { ...baseHeaders(loc), 'x-timestamp': ts.internal })
  // 404: the peer had nothing (or an older tombstone) and now has this one; 409: it has newer.
  if (r.status === 204 || r.status === 404) return { status: 'ok', sent: 1 }
  if (r.status === 409) return { status: 'ok', sent: 0 }
  return fail(r.status, 'DELETE')
}

async function pushData(loc: ObjectLocation, peer: PushPeer, o: OpenObject): Promise<PushResult> {
  const name = o.dataMetadata.name
  if (!name) return { status: 'failed', sent: 0, error: 'object without a name' }
  const path = objectPath(peer.device, loc.partition, name)
  const remote = await peerState(loc, peer, path)
  if ('status' in remote) return remote
  if (remote.tombstone && !newer(o.dataTimestamp, remote.tombstone)) return { status: 'ok', sent: 0 } // deleted later there
  let sent = 0
  let remoteMerged = remote.merged
  if (newer(o.dataTimestamp, remote.data)) {
    const r = await putData(loc, peer, path, o)
    if (r.status !== 'ok') return r
    sent += r.sent
    if (r.sent) remoteMerged = undefined // the peer's .meta (if any) may predate ours: let POST decide
  }
  if (o.metaMetadata && (remoteMerged === undefined || o.timestamp.compare(remoteMerged) >= 0)) {
    const headers: Record<string, string> = { ...baseHeaders(loc), 'x-timestamp': o.timestamp.internal }
    metadataHeaders(o.metaMetadata, headers)
    if (o.contentTypeTimestamp.compare(o.dataTimestamp) > 0) {
      headers['content-type'] = o.metadata['Content-Type'] ?? 'application/octet-stream'
      headers['content-type-timestamp'] = o.contentTypeTimestamp.internal
    }
    const r = await send(peer, 'POST', path, headers)
    // 409: the peer's metadata is as new or newer.
    if (r.status === 202) sent++
    else if (r.status !== 409) return { ...fail(r.status, 'POST'), sent }
  }
  return { status: 'ok', sent }
}

async function putData(loc: ObjectLocation, peer: PushPeer, path: string, o: OpenObject): Promise<PushResult> {
  const headers: Record<string, string> = {
    ...baseHeaders(loc),
    'x-timestamp': o.dataTimestamp.internal,
    'content-type': o.dataMetadata['Content-Type'] ?? 'application/octet-stream',
    'content-length': String(o.size),
    etag: o.etag,
  }
  metadataHeaders(o.dataMetadata, headers)
  let body: Readable | Buffer
  if (o.inline) {
    if (!(await o.verifyInline())) return { status: 'ok', sent: 0, quarantined: true } // never spread a corrupt copy
    body = o.inline
  } else {
    // A full read is md5-checked as it streams; a mismatch quarantines the local copy and aborts the PUT.
    body = o.read({ verify: true })
  }
  let verifyFailed = false
  if (body instanceof Readable) body.once('error', () => { verifyFailed = true })
  let r: BackendResponse
  try {
    r = await send(peer, 'PUT', path, headers, body)
  } catch (err) {
    if (verifyFailed) return { status: 'ok', sent: 0, quarantined: true }
    throw err
  } finally {
    if (body instanceof Readable && !body.readableEnded) body.destroy()
  }
  if (verifyFailed) return { status: 'ok', sent: 0, quarantined: true }
  if (r.status === 201) return { status: 'ok', sent: 1 }
  if (r.status === 409) return { status: 'ok', sent: 0 } // the peer got as new or newer meanwhile
  return fail(r.status, 'PUT')
}
