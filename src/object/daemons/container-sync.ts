// The container sync daemon (Swift's container/sync.py): for every local container DB with
// X-Container-Sync-To and X-Container-Sync-Key set, the rows written since the last pass are
// replayed to the destination container: a PUT of the object (with its source X-Timestamp, so
// both sides order writes alike) or a DELETE for a tombstone, signed with the realm key
// (X-Container-Sync-Auth) or, for plain URLs, carrying the sync key.
//
// Work is shared among the container's replicas as in Swift: two sync points per DB. Rows newer
// than point 1 are sent by one replica each (hash of the name modulo the replica count picks
// which); rows between point 2 and point 1 are sent by every replica on the next pass, which
// catches what another replica failed to send (the destination's HEAD makes repeats cheap).
//
// Finding synced containers: Swift's container server keeps a symlink per synced DB. Here the
// walk sees every DB, but a DB whose files have not changed since it was last found unsynced is
// not opened again: a pass over idle containers costs two stat() calls each.
import { stat } from 'node:fs/promises'
import { type ContainerSyncSettings, containerSyncSettings, pyQuote, validateSyncTo } from '../proxy/container-sync-realms.ts'
import { hashPath } from '../ring/hash.ts'
import type { Ring } from '../ring/ring.ts'
import { ContainerBroker, type ContainerInfo } from '../storage/container-broker.ts'
import { openOrQuarantine } from '../storage/db-server-setup.ts'
import { decodeTimestamps } from '../storage/db-timestamp.ts'
import { type DaemonOptions, localDevs, mapLimit, nodeKey, silentLogger } from './common.ts'
import { type SyncDestination, SyncHttp, SyncPoints, readNewest, safeTimestamp } from './container-sync-io.ts'
import { PeriodicDaemon, StoppedError, checkStopped } from './daemon.ts'
import { type DbFile, listDbs } from './db-walk.ts'

/** Options of the container sync daemon. */
export interface ContainerSyncOptions extends DaemonOptions {
  containerRing: Ring
  /** The object ring of policy 0 (the source objects are read from their replicas). */
  objectRing: Ring
  policyRings?: Readonly<Record<number, Ring>>
  /** Realms and allowed hosts (default: none, allowed_sync_hosts 127.0.0.1). */
  settings?: ContainerSyncSettings
  /** Longest time spent on one container per pass (Swift's container_time), ms. Default 60 s. */
  containerTimeMs?: number
  /** Rows sent at once per container (Swift's sync_row_concurrency). Default 8. */
  rowConcurrency?: number
  /** Containers synced at once. Default 2. */
  concurrency?: number
  /** Idle timeout of a request to the destination cluster, ms. Default 20 s. */
  remoteTimeoutMs?: number
}

/** Counts of one pass (Swift's container_syncs, _puts, _deletes, _skips, _failures). */
export interface ContainerSyncStats {
  /** Container DBs looked at (opened or known unsynced). */
  checked: number
  /** Containers with sync on that were gone through. */
  synced: number
  /** Containers with sync on that were not (invalid X-Container-Sync-To, handoff copy). */
  skipped: number
  /** Rows or containers that failed (retried next pass). */
  failures: number
  puts: number
  deletes: number
  bytes: number
}

/** One row of the object table. */
interface Row { ROWID: number; name: string; created_at: string; size: number; deleted: number }

/** Where and how one container syncs. */
interface Job extends SyncDestination {
  info: ContainerInfo
}

/** Headers of a source object never sent along (the destination makes its own). */
const DROP = /^(date|last-modified|x-backend-.*|x-object-sysmeta-.*|x-object-transient-sysmeta-.*|transfer-encoding|connection|keep-alive|accept-ranges|content-range|x-trans-id|x-openstack-request-id|server)$/

/** The container sync daemon. */
export class ContainerSync extends PeriodicDaemon<ContainerSyncStats> {
  private readonly logger
  private readonly settings: ContainerSyncSettings
  /** DB path → file signature when it was last found not syncing. */
  private readonly idle = new Map<string, string>()
  /** DB path → the X-Container-Sync-To it was last synced to (a change restarts from the first row). */
  private readonly lastSyncTo = new Map<string, string>()
  private readonly http: SyncHttp

  constructor(private readonly opts: ContainerSyncOptions) {
    super('container-sync', opts.logger)
    this.logger = opts.logger ?? silentLogger
    this.settings = opts.settings ?? containerSyncSettings()
    this.http = new SyncHttp(opts.remoteTimeoutMs)
  }

  override async stop(): Promise<void> {
    await super.stop()
    this.http.close()
  }

  protected async pass(signal: AbortSignal): Promise<ContainerSyncStats> {
    const stats: ContainerSyncStats = { checked: 0, synced: 0, skipped: 0, failures: 0, puts: 0, deletes: 0, bytes: 0 }
    const devs = localDevs(this.opts.containerRing, this.opts.myNodes, this.opts.devices)
    const dbs = await listDbs(this.opts.devicesRoot, devs, 'containers')
    const seen = new Set(dbs.map((d) => d.path))
    for (const p of this.idle.keys()) if (!seen.has(p)) this.idle.delete(p)
    for (const p of this.lastSyncTo.keys()) if (!seen.has(p)) this.lastSyncTo.delete(p)
    await mapLimit(dbs, this.opts.concurrency ?? 2, async (db) => {
      checkStopped(signal)
      try {
        await this.container(db, stats, signal)
      } catch (err) {
        if (err instanceof StoppedError) throw err
        stats.failures++
        this.logger.error({ err, db: db.path }, 'container sync failed')
      }
    })
    return stats
  }

  /** A signature of the DB's files: it changes with every commit (WAL or checkpoint). */
  private async fileSignature(path: string): Promise<{ sig: string; recent: boolean } | undefined> {
    try {
      const main = await stat(path)
      const wal = await stat(`${path}-wal`).catch(() => undefined)
      const newest = Math.max(main.mtimeMs, wal?.mtimeMs ?? 0)
      // A change within the same clock tick as the check would go unseen: recent files are not trusted.
      return { sig: `${main.mtimeMs}:${main.size}:${wal?.mtimeMs ?? 0}:${wal?.size ?? 0}`, recent: Date.now() - newest < 2000 }
    } catch { return undefined }
  }

  private async container(db: DbFile, stats: ContainerSyncStats, signal: AbortSignal): Promise<void> {
    stats.checked++
    const files = await this.fileSignature(db.path)
    if (!files) return
    if (this.idle.get(db.path) === files.sig) return
    let broker: ContainerBroker | undefined
    try {
      broker = openOrQuarantine(db.path, 'containers', ContainerBroker.open, this.logger)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'SQLITE_CANTOPEN') return // removed meanwhile
      throw err
    }
    if (!broker) return
    try {
      const job = this.jobOf(db, broker, stats)
      if (job === undefined) {
        if (!files.recent) this.idle.set(db.path, files.sig)
        return
      }
      this.idle.delete(db.path)
      if (job === null) return
      await this.syncContainer(db, broker, job, stats, signal)
    } finally {
      broker.close()
    }
  }

  /**
   * The sync job of a container: undefined when sync is off (or the DB is deleted), null when
   * it is on but this replica cannot do it (handoff, invalid destination).
   */
  private jobOf(db: DbFile, broker: ContainerBroker, stats: ContainerSyncStats): Job | null | undefined {
    if (broker.isDeleted()) return undefined
    let syncTo: string | undefined
    let userKey: string | undefined
    const metadata = broker.metadata
    for (const [k, [v]] of Object.entries(metadata)) {
      const key = k.toLowerCase()
      if (key === 'x-container-sync-to') syncTo = v
      else if (key === 'x-container-sync-key') userKey = v
    }
    if (!syncTo || !userKey) return undefined
    const info = broker.getInfo()
    if (metadata['X-Container-Sysmeta-Versions-Container']?.[0]) {
      stats.skipped++
      this.logger.warn({ account: info.account, container: info.container }, 'container sync skipped: object versioning configured')
      return null
    }
    const target = validateSyncTo(syncTo, this.settings.allowedSyncHosts, this.settings.realms)
    if (target.error || !target.endpoint) {
      stats.skipped++
      this.logger.info({ db: db.path, error: target.error }, 'container sync: invalid X-Container-Sync-To')
      return null
    }
    if (!target.endpoint.startsWith('http://') && !target.endpoint.startsWith('https://')) {
      stats.skipped++
      this.logger.info({ db: db.path, endpoint: target.endpoint }, 'container sync: realm endpoint is not an http(s) URL')
      return null
    }
    const url = new URL(target.endpoint)
    // Re-encoded as Swift's receiving proxy will see it, so both sides sign the same path.
    const basePath = url.pathname.split('/').map((s) => pyQuote(safeDecode(s))).join('/')
    return { info, origin: `${url.protocol}//${url.host}`, basePath, userKey, realm: target.realm, realmKey: target.realmKey }
  }

  private async syncContainer(db: DbFile, broker: ContainerBroker, job: Job, stats: ContainerSyncStats, signal: AbortSignal): Promise<void> {
    const { info } = job
    const { nodes } = this.opts.containerRing.getNodes(this.opts.hashConfig, info.account, info.container)
    const ordinal = nodes.findIndex((n) => n.device === db.dev.device && this.opts.myNodes.has(nodeKey(n)))
    if (ordinal < 0) { stats.skipped++; return } // a handoff copy: replication moves it to a primary
    const syncTo = `${job.origin}${job.basePath}`
    let points: SyncPoints | undefined
    const save = (p1: number | undefined, p2: number | undefined) => {
      points ??= new SyncPoints(db.path)
      points.set(p1, p2)
    }
    try {
      let sp1 = info.x_container_sync_point1
      let sp2 = info.x_container_sync_point2
      const before = this.lastSyncTo.get(db.path)
      if (before !== undefined && before !== syncTo && (sp1 !== -1 || sp2 !== -1)) {
        sp1 = sp2 = -1 // a new destination gets every row (Swift's container server resets the points)
        save(-1, -1)
      }
      this.lastSyncTo.set(db.path, syncTo)
      const stopAt = Date.now() + (this.opts.containerTimeMs ?? 60_000)
      const concurrency = this.opts.rowConcurrency ?? 8

      // Rows between the points: every replica sends them, once more.
      let failedAt: number | undefined
      while (Date.now() < stopAt && sp2 < sp1) {
        checkStopped(signal)
        const rows = (broker.getItemsSince(sp2, 64) as unknown as Row[]).filter((r) => r.ROWID <= sp1)
        if (!rows.length) break
        const ok = await this.sendRows(rows, job, stats, concurrency)
        ok.forEach((good, i) => { if (!good && failedAt === undefined) failedAt = i === 0 ? sp2 : rows[i - 1]!.ROWID })
        sp2 = rows[rows.length - 1]!.ROWID
        save(undefined, failedAt ?? sp2)
        if (rows.length < 64) break
      }

      // Newer rows: this replica's share.
      while (Date.now() < stopAt) {
        checkStopped(signal)
        const rows = broker.getItemsSince(sp1, 64) as unknown as Row[]
        if (!rows.length) break
        // Swift: unpack_from('>I', hash_path(a, c, name, raw_digest=True))[0] % len(nodes) == ordinal
        const mine = rows.filter((r) =>
          Number.parseInt(hashPath(this.opts.hashConfig, info.account, info.container, r.name).slice(0, 8), 16) % nodes.length === ordinal)
        await this.sendRows(mine, job, stats, concurrency)
        sp1 = rows[rows.length - 1]!.ROWID
        save(sp1, undefined)
      }
      stats.synced++
    } finally {
      points?.close()
    }
  }

  /** Sends rows, at most `concurrency` at once; true per row that reached the destination. */
  private async sendRows(rows: Row[], job: Job, stats: ContainerSyncStats, concurrency: number): Promise<boolean[]> {
    const ok = rows.map(() => false)
    await mapLimit(rows.keys(), concurrency, async (i) => { ok[i] = await this.syncRow(rows[i]!, job, stats) })
    return ok
  }

  /** Swift's container_sync_row: one PUT or DELETE on the destination. */
  private async syncRow(row: Row, job: Job, stats: ContainerSyncStats): Promise<boolean> {
    const { info } = job
    try {
      const [tsData, , tsMeta] = decodeTimestamps(row.created_at)
      if (row.deleted) {
        const r = (await this.http.request(job, 'DELETE', row.name, { 'x-timestamp': tsData.internal })).status
        if (!(r >= 200 && r < 300) && r !== 404 && r !== 409) return this.rowFailed(job, row, r, stats)
        stats.deletes++
        return true
      }
      const there = await this.http.request(job, 'HEAD', row.name, { 'x-timestamp': tsMeta.internal })
      if (there.status >= 200 && there.status < 300) {
        const remoteTs = safeTimestamp(there.headers['x-timestamp'])
        if (remoteTs && remoteTs.compare(tsMeta) >= 0) return true
      } else if (there.status !== 404) {
        return this.rowFailed(job, row, there.status, stats)
      }
      const source = await readNewest(this.opts, info.account, info.container, row.name, info.storage_policy_index)
      if (!source) return this.rowFailed(job, row, 'source object unavailable', stats)
      const srcTs = safeTimestamp(source.headers['x-timestamp'])
      if (!srcTs || srcTs.compare(tsMeta) < 0) {
        if (source.body && !Buffer.isBuffer(source.body)) source.body.destroy()
        return this.rowFailed(job, row, 'source object older than its row', stats)
      }
      const headers: Record<string, string> = {}
      for (const [k, v] of Object.entries(source.headers)) if (!DROP.test(k)) headers[k] = v
      if (headers.etag) headers.etag = headers.etag.replace(/^"(.*)"$/, '$1')
      if (headers['content-type']) headers['content-type'] = cleanContentType(headers['content-type'])
      const { status } = await this.http.request(job, 'PUT', row.name, headers, source.body)
      if (!(status >= 200 && status < 300)) return this.rowFailed(job, row, status, stats)
      stats.puts++
      stats.bytes += row.size
      return true
    } catch (err) {
      return this.rowFailed(job, row, (err as Error).message, stats)
    }
  }

  private rowFailed(job: Job, row: Row, why: number | string, stats: ContainerSyncStats): false {
    stats.failures++
    const from = `${job.info.account}/${job.info.container}`
    if (why === 401) this.logger.info({ from, to: job.origin + job.basePath }, 'container sync: unauthorized')
    else this.logger.warn({ from, to: job.origin + job.basePath, object: row.name, why }, 'container sync: row not synced')
    return false
  }
}

function safeDecode(s: string): string {
  try { return decodeURIComponent(s) } catch { return s }
}

/** Swift's clean_content_type: drops the internal ";swift_bytes=" parameter. */
function cleanContentType(v: string): string {
  const i = v.indexOf(';swift_bytes=')
  return i < 0 ? v : v.slice(0, i)
}
