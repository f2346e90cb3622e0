// An account's database (Swift's AccountBroker): a row per container with the counts its
// container server last reported, totals kept by triggers, listings as indexed range queries.
import { randomUUID } from 'node:crypto'
import {
  createDbFile, DatabaseBroker, openDbFile, type BrokerKind, type Metadata, type Sqlite,
} from './db-broker.ts'
import { rangeSql, walkListing, type ListParams, type NameRange, type Subdir } from './db-listing.ts'
import { DbError } from './db-broker.ts'
import { compareTimestamps, isTimestamp, normalizeTimestamp, nowTimestamp, ZERO_TIMESTAMP } from './db-timestamp.ts'
import { deviceOfDbPath } from './container-broker.ts'

/** A container row as the account DB stores and replicates it. */
export interface ContainerRow {
  name: string
  put_timestamp: string
  delete_timestamp: string
  object_count: number
  bytes_used: number
  deleted: number
  storage_policy_index: number
  /** Present on rows read for replication. */
  ROWID?: number
}

/** The account's own record and totals (Swift's get_info). */
export interface AccountInfo {
  account: string
  created_at: string
  put_timestamp: string
  delete_timestamp: string
  status: string
  status_changed_at: string
  container_count: number
  object_count: number
  bytes_used: number
  /** chexor of every row: equal hashes mean equal rows. */
  hash: string
  /** This replica's id (uuid-device), the key of sync points. */
  id: string
}

/** One container of an account listing. */
export interface ListedContainer {
  name: string
  object_count: number
  bytes_used: number
  put_timestamp: string
  storage_policy_index: number
}

/** Per-policy totals of an account. */
export interface AccountPolicyStats { container_count: number; object_count: number; bytes_used: number }

/** What a replicator compares: info, the row count as `count`, raw metadata and the max ROWID. */
export type AccountReplicationInfo = Omit<AccountInfo, 'container_count'> & {
  count: number; metadata: string; max_row: number
}

const KIND: BrokerKind = { dbType: 'account', statTable: 'account_stat', itemsTable: 'container', keepOnDelete: [] }

const SCHEMA = `
  CREATE TABLE container (
    ROWID INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    put_timestamp TEXT, delete_timestamp TEXT,
    object_count INTEGER, bytes_used INTEGER,
    deleted INTEGER NOT NULL DEFAULT 0,
    storage_policy_index INTEGER NOT NULL DEFAULT 0
  );
  CREATE UNIQUE INDEX ix_container_name ON container (name);
  CREATE INDEX ix_container_deleted_name ON container (deleted, name);
  CREATE TABLE account_stat (
    account TEXT, created_at TEXT, put_timestamp TEXT DEFAULT '0', delete_timestamp TEXT DEFAULT '0',
    container_count INTEGER DEFAULT 0, object_count INTEGER DEFAULT 0, bytes_used INTEGER DEFAULT 0,
    hash TEXT DEFAULT '00000000000000000000000000000000', id TEXT, status TEXT DEFAULT '',
    status_changed_at TEXT DEFAULT '0', metadata TEXT DEFAULT ''
  );
  CREATE TABLE policy_stat (
    storage_policy_index INTEGER PRIMARY KEY,
    container_count INTEGER DEFAULT 0, object_count INTEGER DEFAULT 0, bytes_used INTEGER DEFAULT 0
  );
  CREATE TRIGGER container_update BEFORE UPDATE ON container BEGIN
    SELECT RAISE(FAIL, 'UPDATE not allowed; DELETE and INSERT');
  END;
  CREATE TRIGGER container_insert AFTER INSERT ON container BEGIN
    UPDATE account_stat SET container_count = container_count + (1 - new.deleted),
      object_count = object_count + new.object_count, bytes_used = bytes_used + new.bytes_used,
      hash = chexor(hash, new.name, new.put_timestamp || '-' || new.delete_timestamp || '-' ||
                    new.object_count || '-' || new.bytes_used);
    INSERT OR IGNORE INTO policy_stat (storage_policy_index) VALUES (new.storage_policy_index);
    UPDATE policy_stat SET container_count = container_count + (1 - new.deleted),
      object_count = object_count + new.object_count, bytes_used = bytes_used + new.bytes_used
      WHERE storage_policy_index = new.storage_policy_index;
  END;
  CREATE TRIGGER container_delete AFTER DELETE ON container BEGIN
    UPDATE account_stat SET container_count = container_count - (1 - old.deleted),
      object_count = object_count - old.object_count, bytes_used = bytes_used - old.bytes_used,
      hash = chexor(hash, old.name, old.put_timestamp || '-' || old.delete_timestamp || '-' ||
                    old.object_count || '-' || old.bytes_used);
    UPDATE policy_stat SET container_count = container_count - (1 - old.deleted),
      object_count = object_count - old.object_count, bytes_used = bytes_used - old.bytes_used
      WHERE storage_policy_index = old.storage_policy_index;
  END;`

/** Options to create an account DB. */
export interface CreateAccountOptions {
  account: string
  /** Internal timestamp of the creating PUT. */
  putTimestamp: string
  /** Replication can create a replica with the sender's timestamps. */
  createdAt?: string
  deleteTimestamp?: string
  statusChangedAt?: string
  metadata?: Metadata
}

const isZero = (n: unknown) => n === null || n === undefined || n === '' || n === 0 || n === '0'

/** An account DB. Create with AccountBroker.create, open with AccountBroker.open. */
export class AccountBroker extends DatabaseBroker<ContainerRow> {
  /** Creates the DB file (DatabaseAlreadyExists if it exists) and opens it. */
  static create(path: string, o: CreateAccountOptions): AccountBroker {
    createDbFile(path, (db: Sqlite) => {
      db.exec(SCHEMA)
      db.prepare(`INSERT INTO account_stat (account, created_at, id, put_timestamp, delete_timestamp,
        status_changed_at, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)`)
        .run(o.account, o.createdAt ?? nowTimestamp(), `${randomUUID()}-${deviceOfDbPath(path)}`, o.putTimestamp,
          o.deleteTimestamp ?? '0', o.statusChangedAt ?? o.putTimestamp, o.metadata ? JSON.stringify(o.metadata) : '')
    })
    return AccountBroker.open(path)
  }

  /** Opens an existing account DB. */
  static open(path: string): AccountBroker {
    return new AccountBroker(path, openDbFile(path), KIND)
  }

  /** Global data of the account. */
  getInfo(): AccountInfo {
    return this.stmt(`SELECT account, created_at, put_timestamp, delete_timestamp, status, status_changed_at,
      container_count, object_count, bytes_used, hash, id FROM account_stat`).get() as AccountInfo
  }

  /** Deleted: marked DELETED, or no containers and a delete newer than the last PUT. */
  isDeleted(): boolean {
    const i = this.getInfo()
    return i.status === 'DELETED' ||
      (isZero(i.container_count) && compareTimestamps(i.delete_timestamp || ZERO_TIMESTAMP,
        i.put_timestamp || ZERO_TIMESTAMP) > 0)
  }

  /** Explicitly deleted (a DELETE of the account), whatever it still holds. */
  isStatusDeleted(): boolean {
    const i = this.getInfo()
    return i.status === 'DELETED' || compareTimestamps(i.delete_timestamp || ZERO_TIMESTAMP,
      i.put_timestamp || ZERO_TIMESTAMP) > 0
  }

  /** True when the account lists no container. */
  empty(): boolean {
    return isZero(this.getInfo().container_count)
  }

  /**
   * Records a container's report (Swift's put_container): deleted when its delete is newer than
   * its put and it holds no objects.
   */
  putContainer(r: Omit<ContainerRow, 'deleted' | 'ROWID'>): void {
    const deleted = compareTimestamps(r.delete_timestamp || ZERO_TIMESTAMP, r.put_timestamp || ZERO_TIMESTAMP) > 0 &&
      isZero(r.object_count) ? 1 : 0
    this.mergeItems([{ ...r, deleted }])
  }

  /**
   * Merges container rows (Swift's merge_items): put and delete timestamps each take the newer,
   * counts take the incoming report, deleted is recomputed. With `source` (a remote DB id) the
   * incoming sync point moves to the largest ROWID merged.
   */
  mergeItems(items: ContainerRow[], source?: string): void {
    if (items.length === 0) return
    const find = this.stmt(`SELECT name, put_timestamp, delete_timestamp, object_count, bytes_used, deleted,
      storage_policy_index FROM container WHERE name = ?`)
    const del = this.stmt('DELETE FROM container WHERE name = ?')
    const ins = this.stmt(`INSERT INTO container (name, put_timestamp, delete_timestamp, object_count, bytes_used,
      deleted, storage_policy_index) VALUES (?, ?, ?, ?, ?, ?, ?)`)
    this.db.transaction(() => {
      let maxRow = -1
      for (const rec of items) {
        const r = { ...rec, storage_policy_index: rec.storage_policy_index ?? 0 }
        const row = find.get(r.name) as ContainerRow | undefined
        if (row) {
          // Items processed in order, each against what the previous ones left (as Swift).
          r.put_timestamp ??= row.put_timestamp
          r.delete_timestamp ??= row.delete_timestamp
          r.object_count ??= row.object_count
          r.bytes_used ??= row.bytes_used
          if (compareTimestamps(row.put_timestamp, r.put_timestamp) > 0) r.put_timestamp = row.put_timestamp
          if (compareTimestamps(row.delete_timestamp, r.delete_timestamp) > 0) r.delete_timestamp = row.delete_timestamp
          r.deleted = compareTimestamps(r.delete_timestamp, r.put_timestamp) > 0 && isZero(r.object_count) ? 1 : 0
          del.run(r.name)
        }
        ins.run(r.name, r.put_timestamp, r.delete_timestamp, r.object_count ?? 0, r.bytes_used ?? 0,
          r.deleted ? 1 : 0, r.storage_policy_index)
        if (typeof rec.ROWID === 'number' && rec.ROWID > maxRow) maxRow = rec.ROWID
      }
      if (source !== undefined) this.recordIncomingSync(source, maxRow)
    }).immediate()
  }

  /** A listing page of containers (Swift's list_containers_iter). */
  listContainers(p: ListParams): Array<ListedContainer | Subdir> {
    return walkListing(p, (range: NameRange) => {
      const q = listingQuery(range)
      return this.stmt(q.sql).all(...q.args) as ListedContainer[]
    }, (r) => r.name)
  }

  /** EXPLAIN QUERY PLAN of one listing query. */
  explainListing(range: NameRange): string[] {
    const q = listingQuery(range)
    return (this.db.prepare('EXPLAIN QUERY PLAN ' + q.sql).all(...q.args) as Array<{ detail: string }>)
      .map((r) => r.detail)
  }

  /** Totals per storage policy. */
  getPolicyStats(): Record<number, AccountPolicyStats> {
    const out: Record<number, AccountPolicyStats> = {}
    for (const r of this.stmt('SELECT storage_policy_index, container_count, object_count, bytes_used FROM policy_stat')
      .all() as Array<AccountPolicyStats & { storage_policy_index: number }>) {
      const { storage_policy_index, ...stats } = r
      out[storage_policy_index] = stats
    }
    return out
  }

  /** Info for the replicator: get_info with `count`, raw `metadata` and `max_row`. */
  getReplicationInfo(): AccountReplicationInfo {
    const { container_count, ...info } = this.getInfo()
    return { ...info, count: container_count, metadata: this.getRawMetadata(), max_row: this.getMaxRow() }
  }

  /** Forgets deleted container rows older than `ageTimestamp` and stale sync points and metadata. */
  reclaimOld(ageTimestamp: string, syncTime: number): void {
    this.reclaim(ageTimestamp, syncTime, 'delete_timestamp')
  }
}

function listingQuery(range: NameRange): { sql: string; args: unknown[] } {
  const { where, args, order } = rangeSql(range)
  return {
    sql: `SELECT name, object_count, bytes_used, put_timestamp, storage_policy_index FROM container
      WHERE deleted = 0${where ? ' AND ' + where : ''} ORDER BY name ${order} LIMIT ?`,
    args: [...args, range.limit],
  }
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0

/** Checks container rows received from the network (REPLICATE merge_items); DbError 400 if malformed. */
export function toContainerRows(items: unknown): ContainerRow[] {
  if (!Array.isArray(items)) throw new DbError(400, 'Invalid rows: not a list')
  return items.map((x, i) => {
    const r = x as Record<string, unknown>
    const bad = (what: string) => new DbError(400, `Invalid row ${i}: ${what}`)
    if (typeof r !== 'object' || r === null) throw bad('not an object')
    if (typeof r.name !== 'string' || r.name === '') throw bad('name')
    for (const k of ['put_timestamp', 'delete_timestamp'] as const) {
      if (typeof r[k] !== 'string' || !isTimestamp(r[k] as string)) throw bad(k)
    }
    if (!isCount(r.object_count)) throw bad('object_count')
    if (!isCount(r.bytes_used)) throw bad('bytes_used')
    const deleted = r.deleted === true || r.deleted === 1 ? 1 : r.deleted === false || r.deleted === 0 ? 0 : -1
    if (deleted < 0) throw bad('deleted')
    const spi = r.storage_policy_index ?? 0
    if (!isCount(spi)) throw bad('storage_policy_index')
    if (r.ROWID !== undefined && !(typeof r.ROWID === 'number' && Number.isSafeInteger(r.ROWID))) throw bad('ROWID')
    const row: ContainerRow = { name: r.name, put_timestamp: normalizeTimestamp(r.put_timestamp as string),
      delete_timestamp: normalizeTimestamp(r.delete_timestamp as string), object_count: r.object_count,
      bytes_used: r.bytes_used, deleted, storage_policy_index: spi }
    if (typeof r.ROWID === 'number') row.ROWID = r.ROWID
    return row
  })
}
