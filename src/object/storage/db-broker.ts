// Shared plumbing of the account and container databases (Swift's swift/common/db.py):
// where a DB file lives, creating one atomically, opening it (WAL, fsync on commit), a bounded
// cache of open handles, metadata merged key by key last-writer-wins, the replication sync
// tables and the group commit that lets many concurrent row updates share one fsync.
import { createHash, randomBytes } from 'node:crypto'
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, unlinkSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import Database from 'better-sqlite3'
import { compareTimestamps, nowTimestamp } from './db-timestamp.ts'
import { WalSync } from './wal-sync.ts'

/** An open SQLite connection. */
export type Sqlite = Database.Database

/** Metadata as stored: header name → [value, internal timestamp]; '' marks a removed key. */
export type Metadata = Record<string, [string, string]>

/** An error with the status Swift answers it with (400 for bad metadata, 404, 409…). */
export class DbError extends Error {
  override readonly name = 'DbError'
  constructor(readonly status: number, message: string) { super(message) }
}

/** Thrown by createDbFile when another writer created the same DB first. */
export class DatabaseAlreadyExists extends Error {
  override readonly name = 'DatabaseAlreadyExists'
}

/** Swift's limits on user metadata, checked when metadata is written (as DatabaseBroker.validate_metadata). */
export const MAX_META_COUNT = 90
export const MAX_META_OVERALL_SIZE = 4096

/** `<devices>/<device>/<datadir>/<part>/<suffix>/<hash>/<hash>.db`, as Swift's storage_directory. */
export function dbFilePath(devices: string, device: string, datadir: string, partition: string | number,
                           hash: string): string {
  return join(devices, device, datadir, String(partition), hash.slice(-3), hash, hash + '.db')
}

/**
 * Swift's chexor: the DB hash is the XOR of md5(`name-timestamp`) over all rows, so two replicas
 * with the same rows have the same hash whatever order the rows came in.
 */
export function chexor(old: string, name: string, timestamp: string): string {
  const h = createHash('md5').update(`${name}-${timestamp}`).digest()
  const o = Buffer.from(old.padStart(32, '0'), 'hex')
  for (let i = 0; i < 16; i++) h[i]! ^= o[i]!
  return h.toString('hex')
}

function registerFunctions(db: Sqlite): void {
  db.function('chexor', { deterministic: true }, (old: unknown, name: unknown, ts: unknown) =>
    chexor(String(old ?? ''), String(name), String(ts)))
}

const SYNC_TABLES = ['incoming', 'outgoing'].map((dir) => `
  CREATE TABLE ${dir}_sync (remote_id TEXT UNIQUE, sync_point INTEGER, updated_at TEXT DEFAULT 0);
  CREATE TRIGGER ${dir}_sync_insert AFTER INSERT ON ${dir}_sync BEGIN
    UPDATE ${dir}_sync SET updated_at = STRFTIME('%s', 'NOW') WHERE ROWID = new.ROWID;
  END;
  CREATE TRIGGER ${dir}_sync_update AFTER UPDATE ON ${dir}_sync BEGIN
    UPDATE ${dir}_sync SET updated_at = STRFTIME('%s', 'NOW') WHERE ROWID = new.ROWID;
  END;`).join('\n')

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r')
  try { fsyncSync(fd) } finally { closeSync(fd) }
}

/**
 * Creates a DB file the way Swift's initialize does: build it under a temporary name with fast
 * unsafe settings, fsync it, then link it into place, so a DB file is never seen half made.
 * Throws DatabaseAlreadyExists when the file appeared meanwhile.
 */
export function createDbFile(path: string, init: (db: Sqlite) => void): void {
  const dir = dirname(path)
  mkdirSync(dir, { recursive: true })
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  try {
    const db = new Database(tmp)
    try {
      db.pragma('journal_mode = MEMORY')
      db.pragma('synchronous = OFF')
      registerFunctions(db)
      db.transaction(() => { db.exec(SYNC_TABLES); init(db) })()
      db.pragma('journal_mode = WAL') // stored in the file header: every later open is WAL
    } finally { db.close() }
    fsyncPath(tmp)
    try { linkSync(tmp, path) } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new DatabaseAlreadyExists(path)
      throw err
    }
  } finally {
    try { unlinkSync(tmp) } catch { /* already gone */ }
  }
  // The new name and any directories made for it must survive a crash too.
  for (let d = dir, i = 0; i < 4; i++, d = dirname(d)) fsyncPath(d)
}

/** Opens an existing DB: WAL, and synchronous=FULL so every acknowledged commit is fsynced. */
export function openDbFile(path: string): Sqlite {
  const db = new Database(path, { fileMustExist: true })
  try {
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL')
    db.pragma('temp_store = MEMORY')
    db.pragma('busy_timeout = 25000')
    registerFunctions(db)
  } catch (err) {
    db.close()
    throw err
  }
  return db
}

/** True for SQLite errors that mean the file is not a usable DB (Swift quarantines those). */
export function isCorruptDbError(err: unknown): boolean {
  const code = (err as { code?: string }).code
  return code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT_INDEX'
}

/** A replication sync point: how far a remote DB (by id) has been merged. */
export interface SyncPoint { remote_id: string; sync_point: number; updated_at?: string }

/** What the base broker needs from a concrete DB kind. */
export interface BrokerKind {
  /** 'container' or 'account', as Swift's db_type. */
  readonly dbType: string
  /** The single-row info table ('container_info' or 'account_stat'). */
  readonly statTable: string
  /** The rows table ('object' or 'container'). */
  readonly itemsTable: string
  /** Metadata keys (lower case) a DELETE keeps. */
  readonly keepOnDelete: readonly string[]
}

/**
 * What account and container brokers share. A broker owns one open connection; all of its
 * methods are synchronous transactions except `enqueue`, which batches row merges so that
 * concurrent updates commit (and fsync) together.
 */
export abstract class DatabaseBroker<Item> {
  private pending: Item[] = []
  private waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = []
  private flushScheduled = false
  /** A committed batch is waiting for its WAL sync: new rows gather for the next batch meanwhile. */
  private syncing = false
  private open = true
  /** Durability of queued merges: an fsync of the WAL off the main thread (wal-sync.ts). */
  private readonly walSync: WalSync

  private readonly statements = new Map<string, Database.Statement>()

  constructor(readonly path: string, protected readonly db: Sqlite, protected readonly kind: BrokerKind) {
    this.walSync = new WalSync(path)
  }

  /** A prepared statement, prepared once per connection (preparing costs more than most runs). */
  protected stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql)
    if (!s) { s = this.db.prepare(sql); this.statements.set(sql, s) }
    return s
  }

  /** Merges rows (last-writer-wins); `source` is the remote DB id for the incoming sync point. */
  abstract mergeItems(items: Item[], source?: string): void
  /** True when the DB counts as deleted (Swift's is_deleted). */
  abstract isDeleted(): boolean

  /** False once closed (evicted from the cache). */
  get isOpen(): boolean { return this.open }

  /**
   * Queues a row merge; the promise settles once it is committed and fsynced (group commit).
   * Rows queued while the previous batch waits for its WAL sync go into the next transaction,
   * committed as soon as that sync is done (or on the next turn of the event loop when none
   * is running); the fsync runs on the thread pool (see wal-sync.ts). An answer needs the sync
   * after its commit either way, so waiting for the running one costs no latency, and batches
   * grow with the disk's flush time instead of one transaction per turn.
   */
  enqueue(item: Item): Promise<void> {
    if (!this.open) return Promise.reject(new Error(`broker closed: ${this.path}`))
    this.pending.push(item)
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject })
      this.scheduleFlush()
    })
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.syncing || !this.pending.length) return
    this.flushScheduled = true
    setImmediate(() => this.flush())
  }

  /** Commits what enqueue collected, now; its waiters settle once the WAL sync after it is done. */
  flush(): void {
    this.flushScheduled = false
    if (this.pending.length === 0) return
    const items = this.pending
    const waiters = this.waiters
    this.pending = []
    this.waiters = []
    try {
      // Not fsynced by SQLite on this thread: walSync makes it durable before anyone is told.
      this.stmt('PRAGMA synchronous = NORMAL').run()
      try { this.mergeItems(items) } finally { this.stmt('PRAGMA synchronous = FULL').run() }
    } catch (err) {
      for (const w of waiters) w.reject(err)
      return
    }
    this.syncing = true
    const settled = () => { this.syncing = false; if (this.open) this.scheduleFlush() }
    this.walSync.sync().then(() => { settled(); for (const w of waiters) w.resolve() },
      (err: unknown) => { settled(); for (const w of waiters) w.reject(err) })
  }

  /** Commits queued rows, makes them durable, and closes the connection. */
  close(): void {
    if (!this.open) return
    this.flush()
    this.open = false
    this.walSync.closeSync()
    this.db.close()
  }

  /** The raw metadata JSON, as replication sends it. */
  getRawMetadata(): string {
    const row = this.stmt(`SELECT metadata FROM ${this.kind.statTable}`).get() as { metadata: string } | undefined
    if (!row) throw new Error(`missing row in ${this.kind.statTable}: ${this.path}`)
    return row.metadata ?? ''
  }

  /** Metadata: name → [value, timestamp]. */
  get metadata(): Metadata {
    const raw = this.getRawMetadata()
    return raw ? JSON.parse(raw) as Metadata : {}
  }

  /**
   * Merges metadata key by key: a key takes the update only when the update's timestamp is
   * newer (Swift's update_metadata). A value of '' removes the key (kept as a tombstone until
   * reclaim). With `validate`, the merged result must stay within Swift's limits (400).
   */
  updateMetadata(updates: Metadata, validate = false): void {
    const keys = Object.keys(updates)
    if (keys.length === 0) return
    this.db.transaction(() => {
      const md = this.metadata
      let changed = false
      for (const key of keys) {
        const [value, ts] = updates[key]!
        const old = md[key]
        if (!old || compareTimestamps(ts, old[1]) > 0) { md[key] = [value, ts]; changed = true }
      }
      if (!changed) return
      if (validate) validateMetadata(md)
      this.stmt(`UPDATE ${this.kind.statTable} SET metadata = ?`).run(JSON.stringify(md))
    }).immediate()
  }

  /** Only moves put_timestamp forward. */
  updatePutTimestamp(timestamp: string): void {
    this.stmt(`UPDATE ${this.kind.statTable} SET put_timestamp = ? WHERE put_timestamp < ?`)
      .run(timestamp, timestamp)
  }

  /** Only moves status_changed_at forward. */
  updateStatusChangedAt(timestamp: string): void {
    this.stmt(`UPDATE ${this.kind.statTable} SET status_changed_at = ? WHERE status_changed_at < ?`)
      .run(timestamp, timestamp)
  }

  /**
   * Marks the DB deleted at `timestamp` (Swift's delete_db): blanks the metadata (except the
   * kind's kept keys), then sets delete_timestamp and status if the timestamp is newer.
   */
  deleteDb(timestamp: string): void {
    const cleared: Metadata = {}
    for (const key of Object.keys(this.metadata)) {
      if (!this.kind.keepOnDelete.includes(key.toLowerCase())) cleared[key] = ['', timestamp]
    }
    this.updateMetadata(cleared)
    this.stmt(`UPDATE ${this.kind.statTable} SET delete_timestamp = ?, status = 'DELETED',
      status_changed_at = ? WHERE delete_timestamp < ?`).run(timestamp, timestamp, timestamp)
  }

  /**
   * Replication: created_at takes the older, put/delete timestamps the newer of ours and the
   * remote's; a change of deleted status bumps status_changed_at.
   */
  mergeTimestamps(createdAt: string, putTimestamp: string, deleteTimestamp: string): void {
    this.db.transaction(() => {
      const before = this.isDeleted()
      this.stmt(`UPDATE ${this.kind.statTable} SET created_at = MIN(?, created_at),
        put_timestamp = MAX(?, put_timestamp), delete_timestamp = MAX(?, delete_timestamp)`)
        .run(createdAt, putTimestamp, deleteTimestamp)
      if (before !== this.isDeleted()) {
        const now = nowTimestamp()
        this.stmt(`UPDATE ${this.kind.statTable} SET status_changed_at = ? WHERE status_changed_at < ?`)
          .run(now, now)
      }
    }).immediate()
  }

  /** Rows (as stored, with ROWID) after `start` in ROWID order: what a replicator sends. */
  getItemsSince(start: number, count: number): Array<Record<string, unknown> & { ROWID: number }> {
    return this.stmt(`SELECT * FROM ${this.kind.itemsTable} WHERE ROWID > ? ORDER BY ROWID LIMIT ?`)
      .all(start, count) as Array<Record<string, unknown> & { ROWID: number }>
  }

  /** The highest ROWID ever used (rows are never updated in place, so it only grows); -1 if none. */
  getMaxRow(): number {
    const row = this.stmt('SELECT seq FROM sqlite_sequence WHERE name = ?').get(this.kind.itemsTable) as
      { seq: number } | undefined
    return row ? row.seq : -1
  }

  /** The sync point recorded for a remote DB id; -1 if none. */
  getSync(remoteId: string, incoming = true): number {
    const row = this.stmt(`SELECT sync_point FROM ${incoming ? 'incoming' : 'outgoing'}_sync WHERE remote_id = ?`)
      .get(remoteId) as { sync_point: number } | undefined
    return row ? row.sync_point : -1
  }

  /** All sync points of one direction. */
  getSyncs(incoming = true): SyncPoint[] {
    return this.stmt(`SELECT remote_id, sync_point FROM ${incoming ? 'incoming' : 'outgoing'}_sync`)
      .all() as SyncPoint[]
  }

  /** Records sync points, keeping the larger where one exists. */
  mergeSyncs(points: SyncPoint[], incoming = true): void {
    const table = `${incoming ? 'incoming' : 'outgoing'}_sync`
    const upsert = this.stmt(`INSERT INTO ${table} (remote_id, sync_point) VALUES (?, ?)
      ON CONFLICT(remote_id) DO UPDATE SET sync_point = MAX(excluded.sync_point, sync_point)`)
    this.db.transaction(() => {
      for (const p of points) upsert.run(String(p.remote_id), Number(p.sync_point))
    }).immediate()
  }

  /** Within a merge transaction: advance the incoming sync point of `source`. */
  protected recordIncomingSync(source: string, point: number): void {
    this.stmt(`INSERT INTO incoming_sync (remote_id, sync_point) VALUES (?, ?)
      ON CONFLICT(remote_id) DO UPDATE SET sync_point = MAX(excluded.sync_point, sync_point)`).run(source, point)
  }

  /**
   * Removes what is safe to forget (Swift's reclaim): deleted rows older than `ageTimestamp`,
   * sync points not updated since `syncTime` (unix seconds) and removed metadata keys older
   * than `ageTimestamp`.
   */
  protected reclaim(ageTimestamp: string, syncTime: number, rowTimestampColumn: string): void {
    this.db.transaction(() => {
      this.stmt(`DELETE FROM ${this.kind.itemsTable} WHERE deleted = 1 AND ${rowTimestampColumn} < ?`)
        .run(ageTimestamp)
      for (const dir of ['incoming', 'outgoing']) {
        this.stmt(`DELETE FROM ${dir}_sync WHERE CAST(updated_at AS INTEGER) < ?`).run(syncTime)
      }
      const md = this.metadata
      let changed = false
      for (const [key, [value, ts]] of Object.entries(md)) {
        if (value === '' && compareTimestamps(ts, ageTimestamp) < 0) { delete md[key]; changed = true }
      }
      if (changed) this.stmt(`UPDATE ${this.kind.statTable} SET metadata = ?`).run(JSON.stringify(md))
    }).immediate()
  }
}

/** Swift's validate_metadata: at most 90 user metadata items of at most 4096 bytes in all. */
export function validateMetadata(md: Metadata): void {
  let count = 0
  let size = 0
  for (const [key, [value]] of Object.entries(md)) {
    const k = key.toLowerCase()
    if (!value) continue
    const prefix = k.startsWith('x-account-meta-') ? 'x-account-meta-'
      : k.startsWith('x-container-meta-') ? 'x-container-meta-' : ''
    if (!prefix) continue
    count++
    size += [...key.slice(prefix.length)].length + [...value].length
  }
  if (count > MAX_META_COUNT) throw new DbError(400, `Too many metadata items; max ${MAX_META_COUNT}`)
  if (size > MAX_META_OVERALL_SIZE) throw new DbError(400, `Total metadata too large; max ${MAX_META_OVERALL_SIZE}`)
}

/**
 * A bounded LRU of open brokers keyed by DB path: hot DBs stay open (no reopen, prepared
 * statements kept), cold ones are flushed and closed so file handles stay bounded.
 */
export class BrokerCache<B extends { close(): void }> {
  private readonly map = new Map<string, B>()

  constructor(readonly max = 128) {
    if (!(max >= 1)) throw new RangeError('BrokerCache max must be at least 1')
  }

  /** The cached broker for `path`, marked most recently used. */
  get(path: string): B | undefined {
    const b = this.map.get(path)
    if (b !== undefined) { this.map.delete(path); this.map.set(path, b) }
    return b
  }

  /** Caches a broker, closing the least recently used ones beyond the bound. */
  set(path: string, broker: B): void {
    const old = this.map.get(path)
    if (old !== undefined && old !== broker) old.close()
    this.map.delete(path)
    this.map.set(path, broker)
    while (this.map.size > this.max) {
      const [oldest, b] = this.map.entries().next().value as [string, B]
      this.map.delete(oldest)
      b.close()
    }
  }

  /** Closes and forgets one DB (after it was removed or quarantined). */
  evict(path: string): void {
    const b = this.map.get(path)
    if (b !== undefined) { this.map.delete(path); b.close() }
  }

  /** How many DBs are open. */
  get size(): number { return this.map.size }

  /** Closes every cached DB. */
  closeAll(): void {
    for (const b of this.map.values()) b.close()
    this.map.clear()
  }
}
