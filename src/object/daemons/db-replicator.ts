// The account and container DB replicator (Swift's common/db_replicator.py), driving the
// REPLICATE protocol of storage/db-replicate.ts:
//
// For every DB on the local devices, for every other primary of its partition:
//   sync          → the peer's replication info and `point` (how far it has merged our rows);
//   404           → `create` (the peer makes an empty DB with our info), then every row;
//   in sync       → nothing (point ≥ our max_row, or the hashes are equal);
//   otherwise     → rows after the sync point in batches of per_diff with merge_items (at most
//                   max_diffs batches a pass), then merge_syncs with our incoming sync table, and
//                   our outgoing sync point for the peer advances.
// A peer whose device is unmounted (507) is replaced by a handoff. A handoff DB (this device is
// not a primary) is removed once every primary took it and no row arrived meanwhile. Deleted
// DBs are removed once their deletion is older than reclaim_age, and old tombstone rows and
// sync points are reclaimed before each replication (as Swift).
import { readdirSync, rmSync, rmdirSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Dev, Ring } from '../ring/ring.ts'
import { AccountBroker } from '../storage/account-broker.ts'
import { type BackendTarget, callBackend, readBody } from '../storage/backend.ts'
import { ContainerBroker } from '../storage/container-broker.ts'
import type { Metadata, SyncPoint } from '../storage/db-broker.ts'
import { parseMetadata } from '../storage/db-replicate.ts'
import { openOrQuarantine } from '../storage/db-server-setup.ts'
import { compareTimestamps, normalizeTimestamp } from '../storage/db-timestamp.ts'
import { type DaemonOptions, localDevs, mapLimit, sameDevice, shuffle, silentLogger } from './common.ts'
import { PeriodicDaemon, checkStopped } from './daemon.ts'
import { listDbs } from './db-walk.ts'

/** Options of a DB replicator. */
export interface DbReplicatorOptions extends DaemonOptions {
  /** Which DBs: container DBs (containers/) or account DBs (accounts/). */
  kind: 'container' | 'account'
  /** The container or account ring. */
  ring: Ring
  /**
   * Closes the local server's cached handle of a DB before the replicator removes the file
   * (ContainerServer.forget / AccountServer.forget): rows it still queues are committed first.
   */
  forgetDb?: (dbPath: string) => void
  /** DBs replicated at once. Default 8. */
  concurrency?: number
  /** Rows per merge_items batch (Swift's per_diff). Default 1000. */
  perDiff?: number
  /** Batches per DB and peer in one pass (Swift's max_diffs). Default 100. */
  maxDiffs?: number
  /** Seconds after which deleted DBs and tombstone rows go (Swift's reclaim_age). Default one week. */
  reclaimAge?: number
  /** Clock in ms (tests). */
  now?: () => number
}

/** Counts of one DB replication pass. */
export interface DbReplicatorStats {
  /** DBs looked at. */
  attempted: number
  /** Peers already holding every row (by sync point). */
  noChange: number
  /** Peers with an equal hash. */
  hashMatch: number
  /** Peers sent rows with merge_items. */
  diff: number
  /** Peers that had no replica and got one with `create`. */
  created: number
  rowsSent: number
  /** Peers left behind by more than max_diffs batches (continued next pass). */
  diffCapped: number
  /** Peers whose device answered 507 (a handoff was used). */
  unmounted: number
  /** Peer syncs that failed. */
  failures: number
  /** Handoff DBs removed after every primary had them. */
  removed: number
  /** Deleted DBs removed after reclaim_age. */
  reclaimed: number
  /** DB files SQLite could not read (moved to quarantine). */
  quarantined: number
}

/** What the replicator needs of a broker (both ContainerBroker and AccountBroker have it). */
type Broker = ContainerBroker | AccountBroker
type ReplInfo = ReturnType<Broker['getReplicationInfo']> & Partial<{ status_changed_at: string; storage_policy_index: number }>
/** `capped`: more rows than max_diffs batches; the rest goes next pass (not an error, not in sync). */
type Outcome = 'ok' | 'failed' | 'unmounted' | 'capped'

const newStats = (): DbReplicatorStats => ({
  attempted: 0, noChange: 0, hashMatch: 0, diff: 0, created: 0, rowsSent: 0, diffCapped: 0, unmounted: 0, failures: 0,
  removed: 0, reclaimed: 0, quarantined: 0,
})

/** The DB replicator daemon (one per kind). */
export class DbReplicator extends PeriodicDaemon<DbReplicatorStats> {
  private readonly logger
  private readonly datadir: string

  constructor(private readonly opts: DbReplicatorOptions) {
    super(`${opts.kind}-replicator`, opts.logger)
    this.logger = opts.logger ?? silentLogger
    this.datadir = opts.kind === 'container' ? 'containers' : 'accounts'
  }

  protected async pass(signal: AbortSignal): Promise<DbReplicatorStats> {
    const stats = newStats()
    const jobs = await listDbs(this.opts.devicesRoot, localDevs(this.opts.ring, this.opts.myNodes, this.opts.devices), this.datadir)
    await mapLimit(shuffle(jobs), this.opts.concurrency ?? 8, async (job) => {
      checkStopped(signal)
      try {
        await this.replicateDb(job.dev, job.partition, job.hash, job.path, stats, signal)
      } catch (err) {
        if (signal.aborted) throw err
        stats.failures++
        this.logger.error({ err, db: job.path }, 'DB replication failed')
      }
    })
    return stats
  }

  private open(path: string): Broker | undefined {
    const open = this.opts.kind === 'container' ? ContainerBroker.open : AccountBroker.open
    return openOrQuarantine<Broker>(path, this.datadir, open, this.logger)
  }

  private async replicateDb(dev: Dev, partition: string, hash: string, path: string, stats: DbReplicatorStats, signal: AbortSignal): Promise<void> {
    const part = Number(partition)
    if (part >= this.opts.ring.partitionCount) {
      this.logger.error({ db: path }, 'DB partition outside the ring, left alone')
      return
    }
    let broker: Broker | undefined
    try {
      broker = this.open(path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'SQLITE_CANTOPEN') return // removed meanwhile
      throw err
    }
    if (!broker) { stats.quarantined++; return }
    stats.attempted++
    try {
      const nowSec = (this.opts.now?.() ?? Date.now()) / 1000
      const reclaimAge = this.opts.reclaimAge ?? 7 * 86400
      broker.reclaimOld(normalizeTimestamp(Math.max(0, nowSec - reclaimAge)), nowSec - 2 * reclaimAge)
      const info = broker.getReplicationInfo() as ReplInfo
      if (this.reclaimable(info, nowSec - reclaimAge)) {
        if (this.removeDb(broker, path, info.max_row)) stats.reclaimed++
        return
      }
      const primaries = this.opts.ring.getPartNodes(part)
      const shouldBeHere = primaries.some((d) => sameDevice(d, dev))
      const peers = primaries.filter((d) => !sameDevice(d, dev))
      let handoffs: Iterator<Dev> | undefined
      const responses: boolean[] = []
      for (let i = 0; i < peers.length; i++) {
        checkStopped(signal)
        let outcome: Outcome
        try {
          outcome = await this.replToNode(peers[i], broker, info, partition, hash, stats)
        } catch (err) {
          this.logger.warn({ err, db: path, peer: `${peers[i].ip}:${peers[i].port}/${peers[i].device}` }, 'DB sync with peer failed')
          outcome = 'failed'
        }
        if (outcome === 'failed') stats.failures++
        if (outcome === 'unmounted') {
          stats.unmounted++
          handoffs ??= this.opts.ring.getMoreNodes(part)
          for (let h = handoffs.next(); !h.done; h = handoffs.next()) {
            if (!sameDevice(h.value, dev)) { peers.push(h.value); break }
          }
        }
        responses.push(outcome === 'ok')
      }
      if (!shouldBeHere && responses.length > 0 && responses.every(Boolean)) {
        if (this.removeDb(broker, path, info.max_row)) stats.removed++
      }
    } finally {
      broker.close()
    }
  }

  /** Deleted (delete newer than put, no rows counted) longer ago than reclaim_age. */
  private reclaimable(info: ReplInfo, cutoffSec: number): boolean {
    if (Number(info.count) !== 0) return false
    if (compareTimestamps(info.delete_timestamp, info.put_timestamp) <= 0) return false
    return compareTimestamps(info.delete_timestamp, normalizeTimestamp(Math.max(0, cutoffSec))) < 0
  }

  /**
   * Removes a DB unless rows arrived since `maxRow` was read. Everything here is synchronous, so
   * no request of the local server can slip in between the check and the removal.
   */
  private removeDb(broker: Broker, path: string, maxRow: number): boolean {
    this.opts.forgetDb?.(path) // commits rows the server still queues, closes its handle
    if (broker.getMaxRow() !== maxRow) return false
    broker.close()
    const hashDir = dirname(path)
    rmSync(hashDir, { recursive: true, force: true })
    // Empty suffix and partition directories go too (rmdir fails on a non-empty one).
    for (let d = dirname(hashDir), i = 0; i < 2; i++, d = dirname(d)) {
      try { if (readdirSync(d).length === 0) rmdirSync(d) } catch { break }
    }
    return true
  }

  private async rpc(target: BackendTarget, path: string, args: unknown[]): Promise<{ status: number; body: unknown }> {
    const r = await callBackend(target, {
      method: 'REPLICATE', path, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(args)),
    }, { timeoutMs: this.opts.timeoutMs ?? 10_000 })
    const buf = await readBody(r)
    let body: unknown
    if (r.status >= 200 && r.status < 300 && buf.length) body = JSON.parse(buf.toString('utf8'))
    return { status: r.status, body }
  }

  /** Swift's _repl_to_node: sync, then create or send the missing rows. */
  private async replToNode(node: Dev, broker: Broker, info: ReplInfo, partition: string, hash: string, stats: DbReplicatorStats): Promise<Outcome> {
    const target = this.opts.client(node, this.opts.kind)
    const path = `/${encodeURIComponent(node.device)}/${partition}/${hash}`
    const syncArgs: unknown[] = ['sync', info.max_row, info.hash, info.id, info.created_at, info.put_timestamp,
      info.delete_timestamp, info.metadata]
    if (this.opts.kind === 'container') syncArgs.push(info.status_changed_at, info.count, info.storage_policy_index)
    const r = await this.rpc(target, path, syncArgs)
    if (r.status === 507) return 'unmounted'
    if (r.status === 404) {
      const c = await this.rpc(target, path, ['create', info])
      if (c.status === 507) return 'unmounted'
      if (c.status !== 201 && c.status !== 202) {
        this.logger.warn({ status: c.status, peer: path }, 'DB create on peer failed')
        return 'failed'
      }
      stats.created++
      return this.usync(target, path, broker, info, -1, (c.body as { id: string }).id, stats)
    }
    if (r.status < 200 || r.status >= 300) {
      this.logger.warn({ status: r.status, peer: path }, 'DB sync with peer failed')
      return 'failed'
    }
    const remote = r.body as { id: string; point: number; hash: string; metadata?: string }
    const localSync = broker.getSync(remote.id, false)
    // The peer's newer metadata comes back with its answer (Swift merges it here too).
    if (remote.metadata) broker.updateMetadata(parseMetadata(remote.metadata) as Metadata)
    if (Math.max(remote.point, localSync) >= info.max_row) { stats.noChange++; return 'ok' }
    if (remote.hash === info.hash) {
      stats.hashMatch++
      broker.mergeSyncs([{ remote_id: remote.id, sync_point: remote.point }], false)
      return 'ok'
    }
    return this.usync(target, path, broker, info, Math.max(remote.point, localSync), remote.id, stats)
  }

  /** Swift's _usync_db: rows after `point` in ROWID order, then our sync table. */
  private async usync(target: BackendTarget, path: string, broker: Broker, info: ReplInfo, point: number, remoteId: string,
                      stats: DbReplicatorStats): Promise<Outcome> {
    stats.diff++
    const perDiff = this.opts.perDiff ?? 1000
    const maxDiffs = this.opts.maxDiffs ?? 100
    const syncTable: SyncPoint[] = broker.getSyncs()
    let rows = broker.getItemsSince(point, perDiff)
    for (let diffs = 0; rows.length && diffs < maxDiffs; diffs++) {
      const r = await this.rpc(target, path, ['merge_items', rows, info.id])
      if (r.status === 507) return 'unmounted'
      if (r.status < 200 || r.status >= 300) {
        this.logger.warn({ status: r.status, peer: path }, 'merge_items failed')
        return 'failed'
      }
      stats.rowsSent += rows.length
      // Rows go in ROWID order with no gaps, so the last one sent is the new sync point.
      point = rows[rows.length - 1].ROWID
      rows = broker.getItemsSince(point, perDiff)
    }
    if (rows.length) {
      stats.diffCapped++
      return 'capped'
    }
    const r = await this.rpc(target, path, ['merge_syncs', syncTable])
    if (r.status < 200 || r.status >= 300) return r.status === 507 ? 'unmounted' : 'failed'
    broker.mergeSyncs([{ remote_id: remoteId, sync_point: point }], false)
    return 'ok'
  }
}
