// The object replicator (Swift's obj/replicator.py, replication policy), push-only:
//
// For every partition directory on every local device:
// - a primary partition is compared with each other primary by suffix hashes (REPLICATE
//   /<device>/<partition> answers the peer's suffix → md5 map); differing suffixes are re-hashed
//   here, every object in them is pushed (object-push.ts), and the peer is asked to re-hash them
//   (REPLICATE /<device>/<partition>/<suffix>-<suffix>…). A peer whose device is unmounted (507)
//   is replaced by the next handoff device, so the partition keeps its replica count.
// - a handoff partition (this device is not a primary) is pushed to every primary; once all of
//   them have it, the objects whose suffixes did not change meanwhile are deleted here, and the
//   partition directory goes once it is empty. As in Swift, a write landing in such a suffix
//   between the final re-hash and the delete would go with it; the window is a few ms, and only
//   writes a proxy sent to a handoff (primaries failing) can land there.
// Suffix hashes make an in-sync partition cost one small request per peer.
import { readdir, rmdir, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { Dev, Ring } from '../ring/ring.ts'
import { callBackend, readBody } from '../storage/backend.ts'
import { type ObjectDisk, createObjectDisk, dataDirName, tmpDirName } from '../storage/diskfile.ts'
import { HASHES_FILE, INVALID_FILE } from '../storage/suffix-hashes.ts'
import { type DaemonOptions, localDevs, mapLimit, sameDevice, shuffle, silentLogger } from './common.ts'
import { PeriodicDaemon, checkStopped } from './daemon.ts'
import { type PushPeer, pushObject } from './object-push.ts'

/** Options of the object replicator. */
export interface ObjectReplicatorOptions extends DaemonOptions {
  /** The object ring of storage policy 0. */
  ring: Ring
  /** Rings of other storage policies (objects-N directories), by policy index. */
  policyRings?: Readonly<Record<number, Ring>>
  /**
   * The object server's disk layer when both run in one process (required then: suffix-hash
   * invalidations are serialized per ObjectDisk instance). Built from devicesRoot otherwise.
   */
  disk?: ObjectDisk
  /** Partitions replicated at once (Swift's concurrency). Default 4. */
  concurrency?: number
  /** Objects pushed at once within one partition. Default 8. */
  objectConcurrency?: number
  /** Seconds after which a stray temp file is removed (Swift's reclaim_age). Default one week. */
  reclaimAge?: number
}

/** Counts of one replication pass. */
export interface ObjectReplicatorStats {
  /** Partitions looked at (primary + handoff). */
  partitions: number
  handoffPartitions: number
  /** Peer comparisons where every suffix hash matched. */
  hashMatches: number
  /** Suffixes that differed from a peer and were pushed. */
  suffixesSynced: number
  /** Requests that changed a peer (PUT/POST/DELETE accepted). */
  objectsPushed: number
  /** Local copies found corrupt while pushing (quarantined). */
  quarantined: number
  /** Peers that answered 507 (a handoff was used instead). */
  unmounted: number
  /** Peer syncs that failed (retried next pass). */
  failures: number
  /** Handoff objects deleted after every primary had them. */
  handoffObjectsRemoved: number
  /** Handoff partition directories removed. */
  partitionsRemoved: number
  /** Stray temp files removed. */
  tmpRemoved: number
}

/** One partition directory to replicate. */
interface Job { dev: Dev; policy: number; ring: Ring; partition: string }

/** What syncing a partition with one peer came to. */
type SyncOutcome = 'ok' | 'failed' | 'unmounted'

/** Suffixes sent per REPLICATE request line (4 chars each: keeps the URL well under header limits). */
const SUFFIXES_PER_REQUEST = 1000

const newStats = (): ObjectReplicatorStats => ({
  partitions: 0, handoffPartitions: 0, hashMatches: 0, suffixesSynced: 0, objectsPushed: 0, quarantined: 0,
  unmounted: 0, failures: 0, handoffObjectsRemoved: 0, partitionsRemoved: 0, tmpRemoved: 0,
})

/** The object replicator daemon. */
export class ObjectReplicator extends PeriodicDaemon<ObjectReplicatorStats> {
  private readonly disk: ObjectDisk
  private readonly logger
  /** Which tenth of the partitions gets a full directory listing this pass (Swift's replication_cycle). */
  private cycle = 0

  constructor(private readonly opts: ObjectReplicatorOptions) {
    super('object-replicator', opts.logger)
    this.logger = opts.logger ?? silentLogger
    this.disk = opts.disk ?? createObjectDisk({ devicesRoot: opts.devicesRoot, logger: opts.logger })
  }

  private rings(): [number, Ring][] {
    return [[0, this.opts.ring], ...Object.entries(this.opts.policyRings ?? {}).map(([k, r]) => [Number(k), r] as [number, Ring])]
  }

  protected async pass(signal: AbortSignal): Promise<ObjectReplicatorStats> {
    const stats = newStats()
    const jobs: Job[] = []
    for (const [policy, ring] of this.rings()) {
      for (const dev of localDevs(ring, this.opts.myNodes, this.opts.devices)) {
        if (!(await this.disk.devicePath(dev.device))) {
          this.logger.warn({ device: dev.device }, 'object replicator: device not available, skipped')
          continue
        }
        stats.tmpRemoved += await this.cleanTmp(dev.device, policy)
        for (const partition of await this.disk.listPartitions(dev.device, policy)) jobs.push({ dev, policy, ring, partition })
      }
    }
    this.cycle = (this.cycle + 1) % 10
    await mapLimit(shuffle(jobs), this.opts.concurrency ?? 4, async (job) => {
      checkStopped(signal)
      try {
        await this.replicatePartition(job, stats, signal)
      } catch (err) {
        if (signal.aborted) throw err
        stats.failures++
        this.logger.error({ err, device: job.dev.device, partition: job.partition, policy: job.policy }, 'object replication of a partition failed')
      }
    })
    return stats
  }

  private async replicatePartition(job: Job, stats: ObjectReplicatorStats, signal: AbortSignal): Promise<void> {
    const part = Number(job.partition)
    if (!Number.isInteger(part) || part < 0 || part >= job.ring.partitionCount) {
      this.logger.error({ device: job.dev.device, partition: job.partition }, 'partition directory outside the ring, left alone')
      return
    }
    stats.partitions++
    const primaries = job.ring.getPartNodes(part)
    if (primaries.some((d) => sameDevice(d, job.dev))) await this.updatePrimary(job, part, primaries, stats, signal)
    else await this.updateHandoff(job, primaries, stats, signal)
  }

  /** Swift's update(): every other primary, with a handoff standing in for an unmounted one. */
  private async updatePrimary(job: Job, part: number, primaries: Dev[], stats: ObjectReplicatorStats, signal: AbortSignal): Promise<void> {
    const local = await this.disk.getHashes(job.dev.device, job.policy, job.partition, { listdir: part % 10 === this.cycle })
    const peers = primaries.filter((d) => !sameDevice(d, job.dev))
    let handoffs: Iterator<Dev> | undefined
    for (let i = 0; i < peers.length; i++) {
      checkStopped(signal)
      const outcome = await this.syncPeer(job, peers[i], local, stats, signal)
      if (outcome === 'failed') stats.failures++
      if (outcome !== 'unmounted') continue
      stats.unmounted++
      handoffs ??= job.ring.getMoreNodes(part)
      for (let h = handoffs.next(); !h.done; h = handoffs.next()) {
        if (!sameDevice(h.value, job.dev)) { peers.push(h.value); break }
      }
    }
  }

  /** Swift's update_deleted(): push to every primary, then remove what they all have. */
  private async updateHandoff(job: Job, primaries: Dev[], stats: ObjectReplicatorStats, signal: AbortSignal): Promise<void> {
    stats.handoffPartitions++
    const { device } = job.dev
    const before = await this.disk.getHashes(device, job.policy, job.partition, { listdir: true })
    let allOk = true
    if (Object.keys(before).length) {
      for (const peer of primaries) {
        checkStopped(signal)
        const outcome = await this.syncPeer(job, peer, { ...before }, stats, signal)
        if (outcome === 'unmounted') stats.unmounted++
        if (outcome !== 'ok') { allOk = false; if (outcome === 'failed') stats.failures++ }
      }
    }
    if (!allOk) return
    // Only suffixes unchanged since they were compared are known to be on every primary.
    const after = await this.disk.getHashes(device, job.policy, job.partition, { listdir: true })
    for (const suffix of Object.keys(before)) {
      if (after[suffix] !== before[suffix]) continue
      for (const hash of await this.disk.listHashes(device, job.policy, job.partition, suffix)) {
        await this.disk.deleteObject({ device, partition: job.partition, policy: job.policy, hash })
        stats.handoffObjectsRemoved++
      }
    }
    const left = await this.disk.getHashes(device, job.policy, job.partition, { listdir: true })
    if (Object.keys(left).length === 0 && await this.removeEmptyPartition(device, job.policy, job.partition)) stats.partitionsRemoved++
  }

  /**
   * Brings one peer up to date for the differing suffixes. `local` (suffix → hash) is updated in
   * place when suffixes get re-hashed, so later peers reuse the fresh values.
   */
  private async syncPeer(job: Job, peer: Dev, local: Record<string, string>, stats: ObjectReplicatorStats, signal: AbortSignal): Promise<SyncOutcome> {
    const target = this.opts.client(peer, 'object')
    const timeoutMs = this.opts.timeoutMs ?? 10_000
    const headers = { 'x-backend-storage-policy-index': String(job.policy) }
    const base = `/${encodeURIComponent(peer.device)}/${job.partition}`
    let remote: Record<string, string>
    try {
      const r = await callBackend(target, { method: 'REPLICATE', path: base, headers }, { timeoutMs })
      const body = await readBody(r)
      if (r.status === 507) return 'unmounted'
      if (r.status !== 200) {
        this.logger.warn({ peer: `${peer.ip}:${peer.port}/${peer.device}`, status: r.status }, 'REPLICATE failed')
        return 'failed'
      }
      remote = JSON.parse(body.toString('utf8')) as Record<string, string>
    } catch (err) {
      this.logger.warn({ err, peer: `${peer.ip}:${peer.port}/${peer.device}` }, 'REPLICATE failed')
      return 'failed'
    }
    const differing = () => Object.keys(local).filter((s) => local[s] !== remote[s])
    let suffixes = differing()
    if (!suffixes.length) { stats.hashMatches++; return 'ok' }
    // Our cached hashes may be stale for those: re-hash them before sending anything.
    const fresh = await this.disk.getHashes(job.dev.device, job.policy, job.partition, { recalculate: suffixes })
    for (const s of suffixes) if (!(s in fresh)) delete local[s] // emptied meanwhile (e.g. reclaimed tombstones)
    Object.assign(local, fresh)
    suffixes = differing()
    if (!suffixes.length) { stats.hashMatches++; return 'ok' }

    const pushPeer: PushPeer = { target, device: peer.device, timeoutMs }
    let outcome = 'ok' as SyncOutcome
    const hashes: { hash: string }[] = []
    for (const suffix of suffixes) {
      for (const hash of await this.disk.listHashes(job.dev.device, job.policy, job.partition, suffix)) hashes.push({ hash })
    }
    await mapLimit(hashes, this.opts.objectConcurrency ?? 8, async ({ hash }) => {
      if (outcome === 'unmounted' || signal.aborted) return
      const loc = { device: job.dev.device, partition: job.partition, policy: job.policy, hash }
      try {
        const r = await pushObject(this.disk, loc, pushPeer)
        stats.objectsPushed += r.sent
        if (r.quarantined) stats.quarantined++
        if (r.status === 'unmounted') outcome = 'unmounted'
        else if (r.status === 'failed') {
          if (outcome === 'ok') outcome = 'failed'
          this.logger.warn({ hash, peer: `${peer.ip}:${peer.port}/${peer.device}`, error: r.error }, 'object push failed')
        }
      } catch (err) {
        if (outcome === 'ok') outcome = 'failed'
        this.logger.warn({ err, hash, peer: `${peer.ip}:${peer.port}/${peer.device}` }, 'object push failed')
      }
    })
    checkStopped(signal)
    if (outcome === 'unmounted') return outcome
    // Ask the peer to re-hash what we changed so the next comparison is exact.
    for (let i = 0; i < suffixes.length; i += SUFFIXES_PER_REQUEST) {
      const chunk = suffixes.slice(i, i + SUFFIXES_PER_REQUEST)
      try {
        const r = await callBackend(target, { method: 'REPLICATE', path: `${base}/${chunk.join('-')}`, headers }, { timeoutMs })
        await readBody(r)
        if (r.status !== 200 && outcome === 'ok') outcome = r.status === 507 ? 'unmounted' : 'failed'
      } catch (err) {
        if (outcome === 'ok') outcome = 'failed'
        this.logger.warn({ err, peer: `${peer.ip}:${peer.port}/${peer.device}` }, 'REPLICATE (re-hash) failed')
      }
    }
    if (outcome === 'ok') stats.suffixesSynced += suffixes.length
    return outcome
  }

  /**
   * Removes a handoff partition directory only if no suffix directory is in it (a write may have
   * just landed): the cached hashes go first, then rmdir, which fails on a non-empty directory.
   */
  private async removeEmptyPartition(device: string, policy: number, partition: string): Promise<boolean> {
    const dir = join(this.opts.devicesRoot, device, dataDirName(policy), partition)
    let names: string[]
    try { names = await readdir(dir) } catch { return false }
    if (names.some((n) => n !== HASHES_FILE && n !== INVALID_FILE)) return false
    for (const f of [HASHES_FILE, INVALID_FILE]) await unlink(join(dir, f)).catch(() => {})
    try { await rmdir(dir); return true } catch { return false }
  }

  /** Removes temp files older than reclaim_age: leftovers of writes a crash interrupted. */
  private async cleanTmp(device: string, policy: number): Promise<number> {
    const dir = join(this.opts.devicesRoot, device, tmpDirName(policy))
    const cutoff = Date.now() - (this.opts.reclaimAge ?? 7 * 86400) * 1000
    let removed = 0
    let names: string[]
    try { names = await readdir(dir) } catch { return 0 }
    for (const n of names) {
      const p = join(dir, n)
      try {
        const st = await stat(p)
        if (st.isFile() && st.mtimeMs < cutoff) { await unlink(p); removed++ }
      } catch { /* raced with its writer: fine */ }
    }
    return removed
  }
}
