// The read-only ring every proxy and storage node consults (Swift's swift.common.ring.Ring):
// path → partition → the devices holding its replicas, plus handoff devices for when those fail.
import { hash as oneShotHash } from 'node:crypto'
import { closeSync, fstatSync, openSync, readFileSync, type Stats } from 'node:fs'
import { open, stat } from 'node:fs/promises'
import { type HashConfig, hashPath, partitionOf } from './hash.ts'
import { type Dev, type RingData, decodeRing, validateRingData } from './format.ts'

export type { Dev, RingData } from './format.ts'

/** Where an account, container or object lives. `nodes` are distinct devices, primary order. */
export interface NodeLookup {
  partition: number
  nodes: Dev[]
}

/** Options for a ring backed by a file. */
export interface RingOptions {
  /** The `.ring.json.gz` file the ring was read from; enables reloading. */
  path?: string
  /** Seconds between checks of the file's mtime (Swift's reload_time, default 15). */
  reloadTime?: number
  /** Check the file from lookups (in the background) once `reloadTime` has passed. Default: true with a path. */
  autoReload?: boolean
  /** Told about a ring file that changed but could not be loaded; the old ring stays in use. */
  onReloadError?: (err: Error) => void
}

/** Swift's default reload_time. */
export const DEFAULT_RELOAD_TIME = 15

/**
 * A partitioned consistent-hashing ring. Lookups are synchronous and allocation-light; the
 * returned Dev objects are shared and must not be modified.
 * Fractional replica counts are supported as in Swift: the last replica table covers only the
 * first part of the partitions, so some partitions have one replica fewer.
 */
export class Ring {
  partPower = 0
  /** Replica count, fractional when the last table is partial (Swift's replica_count). */
  replicas = 0
  partitionCount = 0
  devs: (Dev | null)[] = []
  replica2part2dev: Uint16Array[] = []
  /** The builder's version counter when the ring was written. */
  version = 0

  readonly path?: string
  private readonly reloadMs: number
  private readonly autoReload: boolean
  private readonly onReloadError?: (err: Error) => void
  private nextCheck = 0
  private fileId = ''
  private reloading?: Promise<boolean>
  // Handoff bookkeeping (Swift's _update_bookkeeping): only devices holding partitions count.
  private numRegions = 0
  private numZones = 0
  private numServers = 0
  private numAssignedDevs = 0
  private zoneOf: Int32Array = new Int32Array(0)
  private serverOf: Int32Array = new Int32Array(0)

  constructor(data: RingData, opts: RingOptions = {}) {
    this.path = opts.path
    this.reloadMs = (opts.reloadTime ?? DEFAULT_RELOAD_TIME) * 1000
    this.autoReload = opts.autoReload ?? opts.path !== undefined
    this.onReloadError = opts.onReloadError
    this.install(data)
    this.nextCheck = Date.now() + this.reloadMs
  }

  /** Reads a ring file. */
  static async load(path: string, opts: Omit<RingOptions, 'path'> = {}): Promise<Ring> {
    const { data, id } = await readRingFile(path)
    const ring = new Ring(data, { ...opts, path })
    ring.fileId = id
    return ring
  }

  /** Reads a ring file synchronously (start-up code, command-line tools). */
  static loadSync(path: string, opts: Omit<RingOptions, 'path'> = {}): Ring {
    const fd = openSync(path, 'r')
    try {
      const ring = new Ring(decodeRing(readFileSync(fd), path), { ...opts, path })
      ring.fileId = fileIdOf(fstatSync(fd))
      return ring
    } finally {
      closeSync(fd)
    }
  }

  private install(data: RingData): void {
    validateRingData(data)
    const tables = data.replica2part2dev
    this.partPower = data.partPower
    this.partitionCount = tables[0].length
    this.replicas = tables.length - 1 + tables[tables.length - 1].length / tables[0].length
    this.devs = data.devs.map((d) => (d ? Object.freeze({ ...d }) : null))
    this.replica2part2dev = tables
    this.version = data.version
    const assigned = new Set<number>()
    for (const t of tables) for (let p = 0; p < t.length; p++) assigned.add(t[p])
    const regions = new Set<number>()
    const zones = new Map<string, number>()
    const servers = new Map<string, number>()
    this.zoneOf = new Int32Array(this.devs.length).fill(-1)
    this.serverOf = new Int32Array(this.devs.length).fill(-1)
    for (const d of this.devs) {
      if (!d) continue
      const zk = `${d.region}/${d.zone}`
      const sk = `${zk}/${d.ip}:${d.port}`
      if (!zones.has(zk)) zones.set(zk, zones.size)
      if (!servers.has(sk)) servers.set(sk, servers.size)
      this.zoneOf[d.id] = zones.get(zk)!
      this.serverOf[d.id] = servers.get(sk)!
    }
    const usedZones = new Set<number>()
    const usedServers = new Set<number>()
    for (const id of assigned) {
      const d = this.devs[id]!
      regions.add(d.region)
      usedZones.add(this.zoneOf[id])
      usedServers.add(this.serverOf[id])
    }
    this.numRegions = regions.size
    this.numZones = usedZones.size
    this.numServers = usedServers.size
    this.numAssignedDevs = assigned.size
  }

  /** The partition an account, container or object hashes to. */
  getPartition(hash: HashConfig, account: string, container?: string, object?: string): number {
    return partitionOf(hashPath(hash, account, container, object), this.partPower)
  }

  /** The partition and its primary devices for an account, container or object. */
  getNodes(hash: HashConfig, account: string, container?: string, object?: string): NodeLookup {
    const partition = this.getPartition(hash, account, container, object)
    return { partition, nodes: this.getPartNodes(partition) }
  }

  /** The primary devices of a partition, in replica order, each device once. */
  getPartNodes(part: number): Dev[] {
    this.checkPart(part)
    this.maybeReload()
    const out: Dev[] = []
    for (const t of this.replica2part2dev) {
      if (part >= t.length) continue
      const dev = this.devs[t[part]]!
      if (!out.includes(dev)) out.push(dev)
    }
    return out
  }

  /**
   * Handoff devices for a partition, best first, as Swift's get_more_nodes: walking the
   * partitions from a start point derived from md5(part) (so the order is stable per partition
   * and mostly survives ring changes), it first yields devices in regions no primary uses, then
   * in unused zones, then on unused servers (ip:port), then any unused device.
   */
  *getMoreNodes(part: number): Generator<Dev> {
    this.checkPart(part)
    this.maybeReload()
    // Capture the tables so a reload during iteration cannot mix two rings.
    const tables = this.replica2part2dev
    const devs = this.devs
    const zoneOf = this.zoneOf
    const serverOf = this.serverOf
    const primaries = this.getPartNodes(part)
    const used = new Set(primaries.map((d) => d.id))
    const regions = new Set(primaries.map((d) => d.region))
    const zones = new Set(primaries.map((d) => zoneOf[d.id]))
    const servers = new Set(primaries.map((d) => serverOf[d.id]))
    const parts = tables[0].length
    const start = partitionOf(oneShotHash('md5', String(part), 'hex'), this.partPower)
    const inc = Math.floor(parts / 65536) || 1
    const numRegions = this.numRegions
    const numZones = this.numZones
    const numServers = this.numServers
    const numDevs = this.numAssignedDevs

    for (const hp of handoffOrder(start, parts, inc)) {
      if (regions.size >= numRegions) break
      for (const t of tables) {
        if (hp >= t.length) continue
        const dev = devs[t[hp]]!
        if (used.has(dev.id) || regions.has(dev.region)) continue
        yield dev
        used.add(dev.id); regions.add(dev.region); zones.add(zoneOf[dev.id]); servers.add(serverOf[dev.id])
        if (regions.size >= numRegions) break
      }
    }
    for (const hp of handoffOrder(start, parts, inc)) {
      if (zones.size >= numZones) break
      for (const t of tables) {
        if (hp >= t.length) continue
        const dev = devs[t[hp]]!
        if (used.has(dev.id) || zones.has(zoneOf[dev.id])) continue
        yield dev
        used.add(dev.id); zones.add(zoneOf[dev.id]); servers.add(serverOf[dev.id])
        if (zones.size >= numZones) break
      }
    }
    for (const hp of handoffOrder(start, parts, inc)) {
      if (servers.size >= numServers) break
      for (const t of tables) {
        if (hp >= t.length) continue
        const dev = devs[t[hp]]!
        if (used.has(dev.id) || servers.has(serverOf[dev.id])) continue
        yield dev
        used.add(dev.id); servers.add(serverOf[dev.id])
        if (servers.size >= numServers) break
      }
    }
    for (const hp of handoffOrder(start, parts, inc)) {
      if (used.size >= numDevs) break
      for (const t of tables) {
        if (hp >= t.length) continue
        const id = t[hp]
        if (used.has(id)) continue
        yield devs[id]!
        used.add(id)
        if (used.size >= numDevs) break
      }
    }
  }

  /**
   * Re-reads the ring file if it changed (inode, mtime or size), checking the file at most once
   * per `reloadTime` unless `force`. Resolves true when a new ring was installed. A file that
   * fails to load rejects and leaves the current ring in place.
   */
  reloadIfChanged(force = false): Promise<boolean> {
    if (!this.path) return Promise.resolve(false)
    if (this.reloading) return this.reloading
    const now = Date.now()
    if (!force && now < this.nextCheck) return Promise.resolve(false)
    this.nextCheck = now + this.reloadMs
    const path = this.path
    this.reloading = (async () => {
      if (fileIdOf(await stat(path)) === this.fileId) return false
      const { data, id } = await readRingFile(path)
      this.install(data)
      this.fileId = id
      return true
    })().finally(() => { this.reloading = undefined })
    return this.reloading
  }

  private maybeReload(): void {
    if (!this.autoReload || this.reloading || Date.now() < this.nextCheck) return
    this.reloadIfChanged().catch((err: Error) => this.onReloadError?.(err))
  }

  private checkPart(part: number): void {
    if (!Number.isInteger(part) || part < 0 || part >= this.partitionCount) {
      throw new RangeError(`partition ${part} is not in 0..${this.partitionCount - 1}`)
    }
  }
}

/** Identifies one version of a file: writers replace ring files by rename, so the inode changes. */
function fileIdOf(st: Stats): string {
  return `${st.ino}:${st.mtimeMs}:${st.size}`
}

/** Reads and decodes a ring file, identifying the version read through the same open file. */
async function readRingFile(path: string): Promise<{ data: RingData; id: string }> {
  const fh = await open(path, 'r')
  try {
    const id = fileIdOf(await fh.stat())
    return { data: decodeRing(await fh.readFile(), path), id }
  } finally {
    await fh.close()
  }
}

/** Swift's handoff walk: start..parts by inc, then wrap around to just before start. */
function* handoffOrder(start: number, parts: number, inc: number): Generator<number> {
  for (let p = start; p < parts; p += inc) yield p
  for (let p = inc - ((parts - start) % inc); p < start; p += inc) yield p
}
