// The offline ring builder (Swift's RingBuilder): operators add, weigh and remove devices, then
// rebalance to get a new partition assignment. The placement algorithm is in rebalance.ts.
import { createHash, randomInt } from 'node:crypto'
import { type Dev, type RingData, MAX_DEV_ID, MAX_PART_POWER, base64ToU16, base64ToU32, checkDev,
  u16ToBase64, u32ToBase64 } from './format.ts'
import { Ring } from './ring.ts'
import { NONE, rebalanceTables, seededRandom, tableLengths } from './rebalance.ts'
import { deviceBalances, dispersion, overallBalance } from './stats.ts'

/** A device to add; `id` is chosen by the builder unless given. */
export interface DevSpec {
  id?: number
  region: number
  zone: number
  ip: string
  port: number
  device: string
  weight: number
  meta?: string
}

/** What a rebalance did: part-replicas moved, the resulting balance % and dispersion %. */
export interface RebalanceResult {
  /** Part-replicas whose device changed (Swift's "reassigned" count). */
  moved: number
  /** Worst device's deviation from its weight's share, in % (Swift's balance). */
  balance: number
  /** % of part-replicas less dispersed than the topology allows (Swift's dispersion). */
  dispersion: number
  /** Devices removed from the builder by this rebalance. */
  removed: number
  warnings: string[]
}

/** Options for one rebalance. */
export interface RebalanceOptions {
  /** Makes the result reproducible (Swift's --seed). */
  seed?: number | string
  /** The time to record moves at, ms since the epoch (default: now). */
  now?: number
}

/** The builder file's JSON shape (`*.builder.json`). */
export interface BuilderFile {
  format: 'cumulo-ring-builder'
  formatVersion: 1
  partPower: number
  replicas: number
  minPartHours: number
  version: number
  devsChanged: boolean
  devs: (Dev | null)[]
  pendingRemoval: number[]
  /** base64 little-endian uint16 tables, null before the first rebalance. */
  replica2part2dev: string[] | null
  /** base64 little-endian uint32: each partition's last move, epoch seconds (0 = never). */
  lastPartMoves: string
}

const isInt = (v: unknown, min: number, max: number) =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max

/** Builds rings. Mutations are in memory; io.ts saves and loads builder files. */
export class RingBuilder {
  devs: (Dev | null)[] = []
  /** Changes since creation; copied into each ring. */
  version = 0
  /** True when devices changed since the last rebalance (a rebalance then must be written). */
  devsChanged = false
  private readonly pending = new Set<number>()
  private tables: Uint16Array[] | null = null
  private lastMove: Uint32Array

  private constructor(readonly partPower: number, readonly replicas: number, public minPartHours: number) {
    this.lastMove = new Uint32Array(2 ** partPower)
  }

  /** A new, empty builder: 2^partPower partitions, `replicas` (≥ 1, may be fractional). */
  static create(partPower: number, replicas: number, minPartHours: number): RingBuilder {
    if (!isInt(partPower, 0, MAX_PART_POWER)) throw new Error(`part_power must be an integer in 0..${MAX_PART_POWER}`)
    if (!(typeof replicas === 'number' && Number.isFinite(replicas) && replicas >= 1 && replicas <= 64)) {
      throw new Error('replicas must be a number from 1 to 64')
    }
    if (!isInt(minPartHours, 0, 255)) throw new Error('min_part_hours must be an integer in 0..255')
    return new RingBuilder(partPower, replicas, minPartHours)
  }

  /** Number of partitions. */
  get parts(): number {
    return 2 ** this.partPower
  }

  /** Whether rebalance() has run at least once. */
  get everRebalanced(): boolean {
    return this.tables !== null
  }

  /** Ids of devices marked for removal at the next rebalance. */
  get pendingRemoval(): number[] {
    return [...this.pending].sort((a, b) => a - b)
  }

  /** Adds a device and returns its id (the lowest free one unless `spec.id` is given). */
  addDev(spec: DevSpec): number {
    if (!isInt(spec.region, 0, 2 ** 31) || !isInt(spec.zone, 0, 2 ** 31)) throw new Error('region and zone must be non-negative integers')
    if (typeof spec.ip !== 'string' || spec.ip === '' || /[\s/]/.test(spec.ip)) throw new Error('ip must be a non-empty address')
    if (!isInt(spec.port, 1, 65535)) throw new Error('port must be an integer in 1..65535')
    if (typeof spec.device !== 'string' || !/^[^/\s]+$/.test(spec.device) || spec.device === '.' || spec.device === '..') {
      throw new Error('device must be a non-empty name without "/" or spaces')
    }
    if (typeof spec.weight !== 'number' || !Number.isFinite(spec.weight) || spec.weight < 0) throw new Error('weight must be a number ≥ 0')
    if (spec.meta !== undefined && typeof spec.meta !== 'string') throw new Error('meta must be a string')
    for (const d of this.devs) {
      if (d && d.ip === spec.ip && d.port === spec.port && d.device === spec.device) {
        throw new Error(`Device ${d.id} already uses ${d.ip}:${d.port}/${d.device}`)
      }
    }
    let id = spec.id
    if (id === undefined) {
      id = this.devs.indexOf(null)
      if (id < 0) id = this.devs.length
    } else if (!isInt(id, 0, MAX_DEV_ID) || this.devs[id]) {
      throw new Error(`Duplicate or invalid device id: ${id}`)
    }
    if (id > MAX_DEV_ID) throw new Error(`too many devices (ids are limited to ${MAX_DEV_ID})`)
    while (this.devs.length <= id) this.devs.push(null)
    this.devs[id] = { id, region: spec.region, zone: spec.zone, ip: spec.ip, port: spec.port,
      device: spec.device, weight: spec.weight, meta: spec.meta ?? '' }
    this.changed()
    return id
  }

  /** Marks a device for removal; its partitions move at the next rebalance. */
  removeDev(id: number): void {
    const d = this.liveDev(id)
    d.weight = 0
    this.pending.add(id)
    this.changed()
  }

  /** Changes a device's weight (takes effect at the next rebalance). */
  setWeight(id: number, weight: number): void {
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) throw new Error('weight must be a number ≥ 0')
    this.liveDev(id).weight = weight
    this.changed()
  }

  /** Changes min_part_hours. */
  setMinPartHours(hours: number): void {
    if (!isInt(hours, 0, 255)) throw new Error('min_part_hours must be an integer in 0..255')
    this.minPartHours = hours
    this.version++
  }

  /** Forgets when partitions last moved, so the next rebalance may move any of them. */
  pretendMinPartHoursPassed(): void {
    this.lastMove.fill(0)
  }

  /** Seconds until every partition may move again (Swift's min_part_seconds_left). */
  minPartSecondsLeft(now = Date.now()): number {
    let last = 0
    for (let p = 0; p < this.lastMove.length; p++) if (this.lastMove[p] > last) last = this.lastMove[p]
    return Math.max(0, last + this.minPartHours * 3600 - Math.floor(now / 1000))
  }

  /** Reassigns partitions to honour weights, dispersion, removals and min_part_hours. */
  rebalance(opts: RebalanceOptions = {}): RebalanceResult {
    const seed = opts.seed === undefined ? randomInt(2 ** 31)
      : typeof opts.seed === 'number' ? opts.seed
        : createHash('md5').update(opts.seed).digest().readUInt32BE(0)
    const { tables, moved, warnings } = rebalanceTables({
      partPower: this.partPower, replicas: this.replicas, minPartHours: this.minPartHours,
      devs: this.devs, removing: this.pending, tables: this.tables, lastMove: this.lastMove,
      nowSec: Math.floor((opts.now ?? Date.now()) / 1000), rng: seededRandom(seed),
    })
    this.tables = tables
    const removed = this.pending.size
    for (const id of this.pending) this.devs[id] = null
    this.pending.clear()
    while (this.devs.length > 0 && this.devs[this.devs.length - 1] === null) this.devs.pop()
    this.devsChanged = false
    this.version++
    return { moved, balance: this.getBalance(), dispersion: dispersion(this.devs, tables), removed, warnings }
  }

  /** The current balance % (0 before the first rebalance). */
  getBalance(): number {
    return this.tables ? overallBalance(deviceBalances(this.devs, this.tables)) : 0
  }

  /** The current dispersion % (0 before the first rebalance). */
  getDispersion(): number {
    return this.tables ? dispersion(this.devs, this.tables) : 0
  }

  /** A copy of the partition tables (device ids; empty before the first rebalance). */
  getTables(): Uint16Array[] {
    return (this.tables ?? []).map((t) => t.slice())
  }

  /** The ring data for the current assignment. Throws before the first rebalance. */
  getRingData(): RingData {
    if (!this.tables) throw new Error('the builder has never been rebalanced')
    return {
      partPower: this.partPower,
      version: this.version,
      devs: this.devs.map((d) => (d ? { ...d } : null)),
      replica2part2dev: this.tables.map((t) => t.slice()),
    }
  }

  /** A read-only Ring for the current assignment. */
  getRing(): Ring {
    return new Ring(this.getRingData())
  }

  toJSON(): BuilderFile {
    return {
      format: 'cumulo-ring-builder', formatVersion: 1,
      partPower: this.partPower, replicas: this.replicas, minPartHours: this.minPartHours,
      version: this.version, devsChanged: this.devsChanged,
      devs: this.devs, pendingRemoval: this.pendingRemoval,
      replica2part2dev: this.tables ? this.tables.map(u16ToBase64) : null,
      lastPartMoves: u32ToBase64(this.lastMove),
    }
  }

  /** Rebuilds a builder from its JSON, checking every field. */
  static fromJSON(raw: unknown, where = 'builder'): RingBuilder {
    const f = raw as Partial<BuilderFile> | null
    if (!f || f.format !== 'cumulo-ring-builder' || f.formatVersion !== 1) throw new Error(`${where}: not a cumulo ring builder file`)
    const b = RingBuilder.create(f.partPower as number, f.replicas as number, f.minPartHours as number)
    if (!Array.isArray(f.devs) || !Array.isArray(f.pendingRemoval)) throw new Error(`${where}: bad devices`)
    b.devs = f.devs.map((d, i) => (d === null ? null : checkDev(d, i, where)))
    for (const id of f.pendingRemoval) {
      if (!b.devs[id]) throw new Error(`${where}: pending removal of missing device ${id}`)
      b.pending.add(id)
    }
    b.version = typeof f.version === 'number' ? f.version : 0
    b.devsChanged = f.devsChanged === true
    if (f.replica2part2dev) {
      const lens = tableLengths(b.partPower, b.replicas)
      const tables = f.replica2part2dev.map(base64ToU16)
      if (tables.length !== lens.length || tables.some((t, r) => t.length !== lens[r])) {
        throw new Error(`${where}: partition tables do not match part_power and replicas`)
      }
      for (const t of tables) {
        for (let p = 0; p < t.length; p++) {
          if (t[p] !== NONE && !b.devs[t[p]]) throw new Error(`${where}: partition ${p} on missing device ${t[p]}`)
        }
      }
      b.tables = tables
    }
    if (typeof f.lastPartMoves !== 'string') throw new Error(`${where}: missing lastPartMoves`)
    const lm = base64ToU32(f.lastPartMoves)
    if (lm.length !== b.parts) throw new Error(`${where}: lastPartMoves has ${lm.length} entries for ${b.parts} partitions`)
    b.lastMove = lm
    return b
  }

  private liveDev(id: number): Dev {
    const d = Number.isInteger(id) ? this.devs[id] : undefined
    if (!d) throw new Error(`no device with id ${id}`)
    if (this.pending.has(id)) throw new Error(`device ${id} is marked for removal`)
    return d
  }

  private changed(): void {
    this.devsChanged = true
    this.version++
  }
}
