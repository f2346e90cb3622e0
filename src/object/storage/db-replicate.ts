// The receiving side of DB replication: the REPLICATE verb (Swift's ReplicatorRpc), shared by
// the account and container servers.
//
// `REPLICATE /<device>/<partition>/<hash>` with a JSON array body `[op, ...args]`:
//
// - `["sync", max_row, hash, id, created_at, put_timestamp, delete_timestamp, metadata_json
//   (, status_changed_at, count, storage_policy_index)]` → 404 when this node has no such DB;
//   else merges the sender's metadata and timestamps, records the sender's sync point if the
//   hashes already match, and answers 200 with this DB's replication info as JSON plus `point`
//   (the highest of the sender's ROWIDs merged here). The sender is in sync when
//   max(point, its outgoing sync point) >= its max_row, or when the hashes are equal.
// - `["merge_items", rows, sender_id]` → 202: rows as getItemsSince returns them (with ROWID),
//   sent in ROWID order; the incoming sync point of sender_id advances to the last ROWID.
// - `["merge_syncs", [{remote_id, sync_point}, …]]` → 202: the sender's incoming sync table,
//   so the receiver learns what third replicas already hold.
// - `["create", info]` → 201 (202 when it already existed) with this DB's replication info:
//   Cumulo's replacement for Swift's rsync of a whole DB file. `info` is the sender's
//   replication info (account, container, created_at, put/delete timestamps,
//   status_changed_at, storage_policy_index, metadata JSON); the DB is created empty with
//   those, and the sender then sends every row with merge_items from ROWID -1.
import type { BackendResponse } from './backend.ts'
import { DbError, type Metadata, type SyncPoint } from './db-broker.ts'
import { isTimestamp, normalizeTimestamp } from './db-timestamp.ts'

/** What the RPC needs of a broker. */
export interface ReplicableBroker<Item> {
  getReplicationInfo(): { hash: string; id: string; created_at: string; put_timestamp: string; delete_timestamp: string }
  updateMetadata(md: Metadata): void
  mergeTimestamps(createdAt: string, putTimestamp: string, deleteTimestamp: string): void
  getSync(remoteId: string, incoming?: boolean): number
  mergeSyncs(points: SyncPoint[], incoming?: boolean): void
  mergeItems(items: Item[], source?: string): void
}

/** The sender's view in a `sync` call. */
export interface RemoteInfo {
  point: number
  hash: string
  id: string
  created_at: string
  put_timestamp: string
  delete_timestamp: string
  metadata: Metadata
  status_changed_at?: string
  count?: number
  storage_policy_index?: number
}

/** How one server kind plugs into the RPC. */
export interface ReplicateHooks<B extends ReplicableBroker<Item>, Item> {
  /** The open DB at <device>/<partition>/<hash>, or undefined when there is none. */
  find(device: string, partition: string, hash: string): B | undefined
  /** Creates the DB from the sender's info (`create`); returns it and whether it was new. */
  create(device: string, partition: string, hash: string, info: Record<string, unknown>): [B, boolean]
  /** Checks and converts rows received in merge_items; DbError 400 when they are not rows. */
  rows(items: unknown): Item[]
  /** Adjusts the local DB to the sender's info before answering sync (the container's policy). */
  beforeSync?(broker: B, remote: RemoteInfo): void
}

function json(status: number, value: unknown): BackendResponse {
  const body = Buffer.from(JSON.stringify(value), 'utf8')
  return { status, headers: { 'content-type': 'application/json', 'content-length': String(body.length) }, body }
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new DbError(400, `Invalid ${what}`)
  return v
}

function ts(v: unknown, what: string): string {
  if (typeof v === 'number') v = String(v)
  if (typeof v !== 'string' || !isTimestamp(v)) throw new DbError(400, `Invalid ${what}`)
  return normalizeTimestamp(v)
}

/** Parses a metadata JSON string (or object) as Swift's replicator sends it. */
export function parseMetadata(v: unknown): Metadata {
  if (v === '' || v === null || v === undefined) return {}
  let md: unknown = v
  if (typeof v === 'string') {
    try { md = JSON.parse(v) } catch { throw new DbError(400, 'Invalid metadata') }
  }
  if (typeof md !== 'object' || md === null || Array.isArray(md)) throw new DbError(400, 'Invalid metadata')
  const out: Metadata = {}
  for (const [k, val] of Object.entries(md as Record<string, unknown>)) {
    if (!Array.isArray(val) || val.length !== 2 || typeof val[0] !== 'string') throw new DbError(400, 'Invalid metadata')
    out[k] = [val[0], ts(val[1], 'metadata timestamp')]
  }
  return out
}

function parseSyncArgs(args: unknown[]): RemoteInfo {
  if (args.length < 7) throw new DbError(400, 'Invalid sync arguments')
  const [point, hash, id, createdAt, put, del, md] = args
  const remote: RemoteInfo = {
    point: typeof point === 'number' ? point : -1,
    hash: str(hash, 'hash'),
    id: str(id, 'id'),
    created_at: ts(createdAt, 'created_at'),
    put_timestamp: ts(put, 'put_timestamp'),
    delete_timestamp: ts(del, 'delete_timestamp'),
    metadata: parseMetadata(md),
  }
  if (args.length > 9) {
    remote.status_changed_at = ts(args[7], 'status_changed_at')
    remote.count = Number(args[8]) || 0
    remote.storage_policy_index = Number(args[9]) || 0
  }
  return remote
}

/** Handles one REPLICATE call; `body` is the parsed JSON body. */
export function replicateRpc<B extends ReplicableBroker<Item>, Item>(hooks: ReplicateHooks<B, Item>,
  device: string, partition: string, hash: string, body: unknown): BackendResponse {
  if (!/^[0-9a-fA-F]{3,64}$/.test(hash)) throw new DbError(400, 'Invalid hash')
  if (!Array.isArray(body) || body.length === 0 || typeof body[0] !== 'string') {
    throw new DbError(400, 'Invalid object type')
  }
  const [op, ...args] = body as [string, ...unknown[]]
  if (op === 'create') {
    const info = args[0]
    if (typeof info !== 'object' || info === null) throw new DbError(400, 'Invalid create arguments')
    const [broker, created] = hooks.create(device, partition, hash, info as Record<string, unknown>)
    return json(created ? 201 : 202, broker.getReplicationInfo())
  }
  const broker = hooks.find(device, partition, hash)
  if (!broker) return { status: 404, headers: {} }
  switch (op) {
    case 'sync': return sync(hooks, broker, parseSyncArgs(args))
    case 'merge_items': {
      const items = hooks.rows(args[0])
      const source = args[1] === undefined || args[1] === null ? undefined : str(args[1], 'source')
      broker.mergeItems(items, source)
      return { status: 202, headers: {} }
    }
    case 'merge_syncs': {
      if (!Array.isArray(args[0])) throw new DbError(400, 'Invalid sync points')
      const points = (args[0] as unknown[]).map((p) => {
        const r = p as Record<string, unknown>
        if (typeof r !== 'object' || r === null || typeof r.sync_point !== 'number') throw new DbError(400, 'Invalid sync points')
        return { remote_id: str(r.remote_id, 'remote_id'), sync_point: r.sync_point }
      })
      broker.mergeSyncs(points)
      return { status: 202, headers: {} }
    }
    default:
      throw new DbError(400, `Invalid replication op: ${op}`)
  }
}

function sync<B extends ReplicableBroker<Item>, Item>(hooks: ReplicateHooks<B, Item>, broker: B,
                                                      remote: RemoteInfo): BackendResponse {
  hooks.beforeSync?.(broker, remote)
  if (Object.keys(remote.metadata).length) broker.updateMetadata(remote.metadata)
  let info = broker.getReplicationInfo()
  if (info.created_at !== remote.created_at || info.put_timestamp !== remote.put_timestamp ||
    info.delete_timestamp !== remote.delete_timestamp) {
    broker.mergeTimestamps(remote.created_at, remote.put_timestamp, remote.delete_timestamp)
    info = broker.getReplicationInfo()
  }
  let point = broker.getSync(remote.id)
  if (remote.hash === info.hash && point < remote.point) {
    // Same rows already: remember that we hold everything up to the sender's max_row.
    broker.mergeSyncs([{ remote_id: remote.id, sync_point: remote.point }])
    point = remote.point
  }
  return json(200, { ...info, point })
}
