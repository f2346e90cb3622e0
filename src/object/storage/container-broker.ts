// A container's database (Swift's ContainerBroker): one row per object name and storage
// policy, merged last-writer-wins; counts kept per policy by triggers; listings as indexed
// range queries on name.
import { randomUUID } from 'node:crypto'
import { basename, dirname } from 'node:path'
import {
  createDbFile, DatabaseBroker, openDbFile, type BrokerKind, type Metadata, type Sqlite,
} from './db-broker.ts'
import { rangeSql, walkListing, type ListParams, type NameRange, type Subdir } from './db-listing.ts'
import { mergeObjectRow, type MergingRow, type ObjectRow } from './container-rows.ts'
import { compareTimestamps, decodeTimestamps, nowTimestamp, ZERO_TIMESTAMP } from './db-timestamp.ts'

export type { ObjectRow } from './container-rows.ts'

/** The container's own record plus its counts for its storage policy (Swift's get_info). */
export interface ContainerInfo {
  account: string
  container: string
  created_at: string
  put_timestamp: string
  delete_timestamp: string
  status: string
  status_changed_at: string
  object_count: number
  bytes_used: number
  reported_put_timestamp: string
  reported_delete_timestamp: string
  reported_object_count: number
  reported_bytes_used: number
  /** chexor of every row: equal hashes mean equal rows. */
  hash: string
  /** This replica's id (uuid-device), the key of sync points. */
  id: string
  x_container_sync_point1: number
  x_container_sync_point2: number
  storage_policy_index: number
}

/** One object of a listing: the stored row's name, last-modified (meta) timestamp and attributes. */
export interface ListedObject {
  name: string
  /** Internal form of the newest of the row's timestamps (what last_modified shows). */
  created_at: string
  size: number
  content_type: string
  etag: string
}

/** Listing options: Swift's parameters plus the policy whose rows are listed. */
export interface ObjectListParams extends ListParams {
  /** Defaults to the container's policy. */
  storagePolicyIndex?: number
}

/** What a replicator compares: info, the row count as `count`, raw metadata and the max ROWID. */
export type ContainerReplicationInfo = Omit<ContainerInfo, 'object_count'> & {
  count: number; metadata: string; max_row: number
}

const KIND: BrokerKind = {
  dbType: 'container',
  statTable: 'container_info',
  itemsTable: 'object',
  keepOnDelete: ['x-container-sysmeta-shard-quoted-root', 'x-container-sysmeta-shard-root'],
}

const SCHEMA = `
  CREATE TABLE object (
    ROWID INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    size INTEGER NOT NULL DEFAULT 0,
    content_type TEXT,
    etag TEXT,
    deleted INTEGER NOT NULL DEFAULT 0,
    storage_policy_index INTEGER NOT NULL DEFAULT 0
  );
  -- identity of a row, and the listing index (undeleted names in order), as Swift's
  CREATE UNIQUE INDEX ix_object_name_policy ON object (name, storage_policy_index);
  CREATE INDEX ix_object_deleted_name ON object (deleted, name);
  CREATE TABLE policy_stat (
    storage_policy_index INTEGER PRIMARY KEY,
    object_count INTEGER NOT NULL DEFAULT 0,
    bytes_used INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE container_info (
    account TEXT, container TEXT, created_at TEXT,
    put_timestamp TEXT DEFAULT '0', delete_timestamp TEXT DEFAULT '0',
    reported_put_timestamp TEXT DEFAULT '0', reported_delete_timestamp TEXT DEFAULT '0',
    reported_object_count INTEGER DEFAULT 0, reported_bytes_used INTEGER DEFAULT 0,
    hash TEXT DEFAULT '00000000000000000000000000000000',
    id TEXT, status TEXT DEFAULT '', status_changed_at TEXT DEFAULT '0', metadata TEXT DEFAULT '',
    x_container_sync_point1 INTEGER DEFAULT -1, x_container_sync_point2 INTEGER DEFAULT -1,
    storage_policy_index INTEGER DEFAULT 0, reconciler_sync_point INTEGER DEFAULT -1
  );
  -- rows are replaced by DELETE + INSERT so a changed row gets a new ROWID: replication sends
  -- "rows since ROWID n" and must see every change
  CREATE TRIGGER object_update BEFORE UPDATE ON object BEGIN
    SELECT RAISE(FAIL, 'UPDATE not allowed; DELETE and INSERT');
  END;
  CREATE TRIGGER object_insert AFTER INSERT ON object BEGIN
    INSERT OR IGNORE INTO policy_stat (storage_policy_index) VALUES (new.storage_policy_index);
    UPDATE policy_stat SET object_count = object_count + (1 - new.deleted), bytes_used = bytes_used + new.size
      WHERE storage_policy_index = new.storage_policy_index;
    UPDATE container_info SET hash = chexor(hash, new.name, new.created_at);
  END;
  CREATE TRIGGER object_delete AFTER DELETE ON object BEGIN
    UPDATE policy_stat SET object_count = object_count - (1 - old.deleted), bytes_used = bytes_used - old.size
      WHERE storage_policy_index = old.storage_policy_index;
    UPDATE container_info SET hash = chexor(hash, old.name, old.created_at);
  END;`

const INFO_SQL = `SELECT ci.account, ci.container, ci.created_at, ci.put_timestamp, ci.delete_timestamp,
  ci.status, ci.status_changed_at, coalesce(ps.object_count, 0) AS object_count,
  coalesce(ps.bytes_used, 0) AS bytes_used, ci.reported_put_timestamp, ci.reported_delete_timestamp,
  ci.reported_object_count, ci.reported_bytes_used, ci.hash, ci.id, ci.x_container_sync_point1,
  ci.x_container_sync_point2, ci.storage_policy_index
  FROM container_info ci LEFT JOIN policy_stat ps ON ci.storage_policy_index = ps.storage_policy_index`

function listingQuery(range: NameRange, policy: number): { sql: string; args: unknown[] } {
  const { where, args, order } = rangeSql(range)
  return {
    sql: `SELECT name, created_at, size, content_type, etag FROM object
      WHERE deleted = 0 AND storage_policy_index = ?${where ? ' AND ' + where : ''} ORDER BY name ${order} LIMIT ?`,
    args: [policy, ...args, range.limit],
  }
}

/** Options to create a container DB. */
export interface CreateContainerOptions {
  account: string
  container: string
  /** Internal timestamp of the creating PUT. */
  putTimestamp: string
  storagePolicyIndex: number
  /** Replication can create a replica with the sender's timestamps. */
  createdAt?: string
  deleteTimestamp?: string
  statusChangedAt?: string
  metadata?: Metadata
}

/** The device directory name of a DB path (…/<device>/containers/<part>/<suffix>/<hash>/<hash>.db). */
export function deviceOfDbPath(path: string): string {
  let d = dirname(path)
  for (let i = 0; i < 4; i++) d = dirname(d)
  return basename(d)
}

/** A container DB. Create with ContainerBroker.create, open with ContainerBroker.open. */
export class ContainerBroker extends DatabaseBroker<ObjectRow> {
  /** Creates the DB file (DatabaseAlreadyExists if it exists) and opens it. */
  static create(path: string, o: CreateContainerOptions): ContainerBroker {
    createDbFile(path, (db: Sqlite) => {
      db.exec(SCHEMA)
      db.prepare('INSERT INTO policy_stat (storage_policy_index) VALUES (?)').run(o.storagePolicyIndex)
      db.prepare(`INSERT INTO container_info (account, container, created_at, id, put_timestamp,
        delete_timestamp, status_changed_at, storage_policy_index, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
        .run(o.account, o.container, o.createdAt ?? nowTimestamp(), `${randomUUID()}-${deviceOfDbPath(path)}`,
          o.putTimestamp, o.deleteTimestamp ?? '0', o.statusChangedAt ?? o.putTimestamp, o.storagePolicyIndex,
          o.metadata ? JSON.stringify(o.metadata) : '')
    })
    return ContainerBroker.open(path)
  }

  /** Opens an existing container DB. */
  static open(path: string): ContainerBroker {
    return new ContainerBroker(path, openDbFile(path), KIND)
  }

  /** Global data of the container (Swift's get_info). */
  getInfo(): ContainerInfo {
    return this.stmt(INFO_SQL).get() as ContainerInfo
  }

  /** The container's storage policy index. */
  get storagePolicyIndex(): number {
    return (this.stmt('SELECT storage_policy_index FROM container_info').get() as { storage_policy_index: number })
      .storage_policy_index
  }

  /** Deleted: no objects in its policy and a delete newer than the last PUT. */
  isDeleted(): boolean {
    return containerInfoIsDeleted(this.getInfo())
  }

  /** True when no policy holds an undeleted object (a DELETE of the container may proceed). */
  empty(): boolean {
    const row = this.stmt('SELECT max(object_count) AS n FROM policy_stat').get() as { n: number | null }
    return !row.n
  }

  /** Records an object (from an object server's container update), now. */
  putObject(row: ObjectRow): void {
    this.mergeItems([row])
  }

  /** Records a deletion: a tombstone row at the timestamp (Swift's delete_object). */
  deleteObject(name: string, timestamp: string, storagePolicyIndex = 0): void {
    this.mergeItems([tombstone(name, timestamp, storagePolicyIndex)])
  }

  /**
   * Merges object rows last-writer-wins (Swift's merge_items): a row replaces the stored one
   * only where it is newer; duplicates within `items` collapse. With `source` (a remote DB id)
   * the incoming sync point moves to the last item's ROWID, for replication.
   */
  mergeItems(items: ObjectRow[], source?: string): void {
    if (items.length === 0) return
    const find = this.stmt(`SELECT name, created_at, size, content_type, etag, deleted, storage_policy_index
      FROM object WHERE name = ? AND storage_policy_index = ?`)
    const del = this.stmt('DELETE FROM object WHERE name = ? AND storage_policy_index = ?')
    const ins = this.stmt(`INSERT INTO object (name, created_at, size, content_type, etag, deleted,
      storage_policy_index) VALUES (?, ?, ?, ?, ?, ?, ?)`)
    this.db.transaction(() => {
      const toAdd = new Map<string, MergingRow>()
      const stored = new Set<string>()
      for (const src of items) {
        const item: MergingRow = { ...src, storage_policy_index: src.storage_policy_index ?? 0 }
        const key = `${item.storage_policy_index}:${item.name}`
        const existing = find.get(item.name, item.storage_policy_index) as ObjectRow | undefined
        if (!mergeObjectRow(item, existing)) continue
        if (existing) stored.add(key)
        const dup = toAdd.get(key)
        if (dup) mergeObjectRow(item, dup)
        toAdd.set(key, item)
      }
      for (const r of toAdd.values()) {
        if (stored.has(`${r.storage_policy_index}:${r.name}`)) del.run(r.name, r.storage_policy_index)
        ins.run(r.name, r.created_at, r.size, r.content_type, r.etag, r.deleted ? 1 : 0, r.storage_policy_index)
      }
      if (source !== undefined) {
        const last = items[items.length - 1]!.ROWID
        if (typeof last === 'number') this.recordIncomingSync(source, last)
      }
    }).immediate()
  }

  /**
   * A listing page (Swift's list_objects_iter): undeleted objects of one policy, with
   * prefix/delimiter/marker/end_marker/reverse/path. Each step is an indexed range query.
   */
  listObjects(p: ObjectListParams): Array<ListedObject | Subdir> {
    const policy = p.storagePolicyIndex ?? this.storagePolicyIndex
    const rows = walkListing(p, (range: NameRange) => {
      const q = listingQuery(range, policy)
      return this.stmt(q.sql).all(...q.args) as ListedObject[]
    }, (r) => r.name)
    for (const r of rows) {
      // Listings show the newest of the row's timestamps (the metadata one).
      if ('name' in r && /[+-]/.test(r.created_at)) r.created_at = decodeTimestamps(r.created_at)[2].internal
    }
    return rows
  }

  /** EXPLAIN QUERY PLAN of one listing query: lets tests prove pages are index range scans. */
  explainListing(range: NameRange): string[] {
    const q = listingQuery(range, 0)
    return (this.db.prepare('EXPLAIN QUERY PLAN ' + q.sql).all(...q.args) as Array<{ detail: string }>)
      .map((r) => r.detail)
  }

  /** Counts per storage policy (objects of other policies await the reconciler). */
  getPolicyStats(): Record<number, { object_count: number; bytes_used: number }> {
    const out: Record<number, { object_count: number; bytes_used: number }> = {}
    for (const r of this.stmt('SELECT storage_policy_index, object_count, bytes_used FROM policy_stat').all() as
      Array<{ storage_policy_index: number; object_count: number; bytes_used: number }>) {
      out[r.storage_policy_index] = { object_count: r.object_count, bytes_used: r.bytes_used }
    }
    return out
  }

  /** Changes the container's policy (a re-created container, or replication's choice). */
  setStoragePolicyIndex(index: number, timestamp = nowTimestamp()): void {
    this.db.transaction(() => {
      this.stmt('INSERT OR IGNORE INTO policy_stat (storage_policy_index) VALUES (?)').run(index)
      this.stmt(`UPDATE container_info SET storage_policy_index = ?, status_changed_at = MAX(?, status_changed_at)
        WHERE storage_policy_index <> ?`).run(index, timestamp, index)
    }).immediate()
  }

  /** Records what was last reported to the account (the container updater compares it). */
  reported(putTimestamp: string, deleteTimestamp: string, objectCount: number, bytesUsed: number): void {
    this.stmt(`UPDATE container_info SET reported_put_timestamp = ?, reported_delete_timestamp = ?,
      reported_object_count = ?, reported_bytes_used = ?`).run(putTimestamp, deleteTimestamp, objectCount, bytesUsed)
  }

  /** Info for the replicator: get_info with `count`, raw `metadata` and `max_row`. */
  getReplicationInfo(): ContainerReplicationInfo {
    const { object_count, ...info } = this.getInfo()
    return { ...info, count: object_count, metadata: this.getRawMetadata(), max_row: this.getMaxRow() }
  }

  /** Forgets tombstone rows older than `ageTimestamp` and stale sync points and metadata. */
  reclaimOld(ageTimestamp: string, syncTime: number): void {
    this.reclaim(ageTimestamp, syncTime, 'created_at')
  }
}

/** Swift's _is_deleted_info for a container. */
export function containerInfoIsDeleted(info: Pick<ContainerInfo, 'object_count' | 'put_timestamp' | 'delete_timestamp'>):
  boolean {
  return !info.object_count && compareTimestamps(info.delete_timestamp || ZERO_TIMESTAMP,
    info.put_timestamp || ZERO_TIMESTAMP) > 0
}

/** The row a DELETE leaves: Swift's delete_object values. */
export function tombstone(name: string, timestamp: string, storagePolicyIndex = 0): ObjectRow {
  return { name, created_at: timestamp, size: 0, content_type: 'application/deleted', etag: 'noetag', deleted: 1,
    storage_policy_index: storagePolicyIndex }
}

/** The fields the storage-policy choice between two replicas looks at. */
export interface PolicyInfo {
  put_timestamp: string
  delete_timestamp: string
  status_changed_at: string
  count?: number
  object_count?: number
  storage_policy_index?: number
}

/**
 * Swift's cmp_policy_info: which replica's storage policy is right when they disagree. If
 * either was deleted, the live one (or, both deleted, the later status change); if either was
 * re-created, the newest re-creation; otherwise the oldest status change. < 0: ours, > 0: theirs.
 */
export function cmpPolicyInfo(info: PolicyInfo, remote: PolicyInfo): number {
  const cmp = compareTimestamps
  const deleted = (i: PolicyInfo) => cmp(i.delete_timestamp, i.put_timestamp) > 0 && !(i.count ?? i.object_count ?? 0)
  const d = deleted(info)
  const rd = deleted(remote)
  if (d || rd) {
    if (!d) return -1
    if (!rd) return 1
    return cmp(remote.status_changed_at, info.status_changed_at)
  }
  const recreated = (i: PolicyInfo) =>
    cmp(i.put_timestamp, i.delete_timestamp) > 0 && cmp(i.delete_timestamp, ZERO_TIMESTAMP) > 0
  const r = recreated(info)
  const rr = recreated(remote)
  if (r || rr) {
    if (!r) return 1
    if (!rr) return -1
    const lastDelete = cmp(info.delete_timestamp, remote.delete_timestamp) >= 0 ? info.delete_timestamp : remote.delete_timestamp
    if (cmp(info.put_timestamp, lastDelete) < 0) return 1
    if (cmp(remote.put_timestamp, lastDelete) < 0) return -1
  }
  return cmp(info.status_changed_at, remote.status_changed_at)
}

/** Swift's incorrect_policy_index: true when the remote replica's policy should replace ours. */
export function incorrectPolicyIndex(info: PolicyInfo, remote: PolicyInfo): boolean {
  if (remote.storage_policy_index === undefined || remote.storage_policy_index === info.storage_policy_index) return false
  return cmpPolicyInfo(info, remote) > 0
}
