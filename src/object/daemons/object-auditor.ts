// The object auditor (Swift's obj/auditor.py): walks every object on the local devices, reads
// each .data body in full and re-computes its MD5, and quarantines an object whose body does not
// match its stored ETag and Content-Length, or whose name does not hash to its directory
// (quarantined/objects[-N]/<hash>, via ObjectDisk.quarantine). The suffix is invalidated by the
// quarantine, so the replicators then see a difference and push a good copy back from another
// replica. Reads are rate limited in bytes and files per second so the audit never starves
// client I/O; Swift's defaults are 10 MB/s and 20 files/s.
import { createHash } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { hashPath } from '../ring/hash.ts'
import type { Ring } from '../ring/ring.ts'
import { type ObjectDisk, type ObjectLocation, type OpenObject, createObjectDisk } from '../storage/diskfile.ts'
import { type DaemonOptions, type LimiterClock, RateLimiter, localDevs, silentLogger } from './common.ts'
import { PeriodicDaemon, checkStopped } from './daemon.ts'

/** Options of the auditor. Without `ring` + `myNodes` it audits every device under devicesRoot. */
export interface ObjectAuditorOptions extends Pick<DaemonOptions, 'devicesRoot' | 'devices' | 'hashConfig' | 'logger'> {
  /** With `myNodes`: audit only this node's devices of the object ring. */
  ring?: Ring
  myNodes?: ReadonlySet<string>
  /**
   * The object server's disk layer when both run in one process (required then: suffix-hash
   * invalidations are serialized per ObjectDisk instance). Built from devicesRoot otherwise.
   */
  disk?: ObjectDisk
  /** Body bytes read per second (Swift's bytes_per_second). Default 10 000 000; 0 = unlimited. */
  bytesPerSecond?: number
  /** .data files audited per second (Swift's files_per_second). Default 20; 0 = unlimited. */
  filesPerSecond?: number
  /** Clock for the rate limiters (tests). */
  clock?: LimiterClock
}

/** Counts of one audit pass. */
export interface ObjectAuditorStats {
  /** .data files whose body was checked. */
  filesChecked: number
  /** Body bytes read. */
  bytesChecked: number
  /** Objects moved to quarantine (bad body, bad metadata, or name/hash mismatch). */
  quarantined: number
  /** Objects that could not be audited (I/O errors); retried next pass. */
  errors: number
}

/** The object auditor daemon. */
export class ObjectAuditor extends PeriodicDaemon<ObjectAuditorStats> {
  private readonly disk: ObjectDisk
  private readonly logger
  private readonly bytes: RateLimiter
  private readonly files: RateLimiter

  constructor(private readonly opts: ObjectAuditorOptions) {
    super('object-auditor', opts.logger)
    this.logger = opts.logger ?? silentLogger
    this.disk = opts.disk ?? createObjectDisk({ devicesRoot: opts.devicesRoot, logger: opts.logger })
    this.bytes = new RateLimiter(opts.bytesPerSecond ?? 10_000_000, 1000, opts.clock)
    this.files = new RateLimiter(opts.filesPerSecond ?? 20, 1000, opts.clock)
  }

  private async devices(): Promise<string[]> {
    if (this.opts.ring && this.opts.myNodes) return localDevs(this.opts.ring, this.opts.myNodes, this.opts.devices).map((d) => d.device)
    const all = await this.disk.listDevices()
    return this.opts.devices ? all.filter((d) => this.opts.devices!.includes(d)) : all
  }

  /** Storage policies with a data directory on the device (objects, objects-1, …). */
  private async policies(device: string): Promise<number[]> {
    let names: string[] = []
    try { names = await readdir(join(this.opts.devicesRoot, device)) } catch { return [] }
    const out: number[] = []
    for (const n of names) {
      const m = /^objects(?:-(\d+))?$/.exec(n)
      if (m) out.push(m[1] ? Number(m[1]) : 0)
    }
    return out.sort((a, b) => a - b)
  }

  protected async pass(signal: AbortSignal): Promise<ObjectAuditorStats> {
    const stats: ObjectAuditorStats = { filesChecked: 0, bytesChecked: 0, quarantined: 0, errors: 0 }
    for (const device of await this.devices()) {
      if (!(await this.disk.devicePath(device))) {
        this.logger.warn({ device }, 'object auditor: device not available, skipped')
        continue
      }
      for (const policy of await this.policies(device)) {
        for (const partition of await this.disk.listPartitions(device, policy)) {
          for (const suffix of await this.disk.listSuffixes(device, policy, partition)) {
            for (const hash of await this.disk.listHashes(device, policy, partition, suffix)) {
              checkStopped(signal)
              const loc = { device, policy, partition, hash }
              try {
                await this.auditObject(loc, stats, signal)
              } catch (err) {
                if (signal.aborted) throw err
                stats.errors++
                this.logger.error({ err, device, partition, hash }, 'object audit failed')
              }
            }
          }
        }
      }
    }
    return stats
  }

  private async auditObject(loc: ObjectLocation, stats: ObjectAuditorStats, signal: AbortSignal): Promise<void> {
    const state = await this.disk.open(loc)
    // Opening already checks the metadata and the body length, quarantining a bad file.
    if (state.status === 'quarantined') { stats.quarantined++; return }
    if (state.status !== 'ok') return // tombstone, gone, or changing right now
    const o = state.object
    let problem: string | null
    try {
      await this.files.take(1, signal)
      problem = this.checkName(loc, o) ?? await this.checkBody(o, stats, signal)
    } finally {
      await o.close()
    }
    checkStopped(signal)
    stats.filesChecked++
    if (!problem) return
    // Quarantine only the file we read: a newer write may have replaced it meanwhile.
    if (!(await this.disk.listFiles(loc)).includes(o.dataFile)) return
    if (await this.disk.quarantine(loc, `${o.dataFile}: ${problem}`)) stats.quarantined++
  }

  /** The stored name must hash to the object's directory, or the object is unreachable where it is. */
  private checkName(loc: ObjectLocation, o: OpenObject): string | null {
    const name = o.dataMetadata.name ?? ''
    const m = /^\/([^/]+)\/([^/]+)\/(.+)$/s.exec(name)
    if (!m) return `bad name metadata ${JSON.stringify(name)}`
    if (hashPath(this.opts.hashConfig, m[1], m[2], m[3]) !== loc.hash) return `name ${JSON.stringify(name)} does not hash to ${loc.hash}`
    return null
  }

  /** Reads the whole body (rate limited) and compares its MD5 and length with the metadata. */
  private async checkBody(o: OpenObject, stats: ObjectAuditorStats, signal: AbortSignal): Promise<string | null> {
    const md5 = createHash('md5')
    let size = 0
    if (o.inline) {
      await this.bytes.take(o.inline.length, signal)
      md5.update(o.inline)
      size = o.inline.length
    } else {
      const stream = o.read()
      try {
        for await (const chunk of stream) {
          const b = chunk as Buffer
          md5.update(b)
          size += b.length
          await this.bytes.take(b.length, signal)
          checkStopped(signal)
        }
      } finally {
        stream.destroy()
      }
    }
    stats.bytesChecked += size
    if (size !== o.size) return `read ${size} bytes, metadata says ${o.size}`
    const got = md5.digest('hex')
    if (got !== o.etag) return `ETag ${o.etag} and file's md5 ${got} do not match`
    return null
  }
}
