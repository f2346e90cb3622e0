// The ring builder's placement algorithm. Our own, simpler than Swift's builder.py but built on
// the same ideas:
//
// 1. Weights → "replicanths": each weighted device's expected replicas per partition,
//    weight / total × replicas, capped at what a device may hold of one partition (1, or more
//    only when there are fewer devices than replicas) with the excess spread over the rest.
//    A tier (region, zone, server = ip:port, device) may hold at most ceil(sum of its devices'
//    replicanths) replicas of any one partition: that is the dispersion rule. With balanced
//    failure domains this means "one replica per zone"; when weights are lopsided, weight wins
//    (as Swift with overload 0): a zone owning half the weight holds two of three replicas of
//    some partitions.
// 2. Device quotas: replicanths × partitions, rounded to integers by largest remainder (ties go
//    to the device already holding more, so a rebalance with nothing to do moves nothing).
// 3. Forced moves: replicas on removed devices (and, for a new ring, every replica) are placed
//    on the device furthest below its quota among those the dispersion rule allows. When every
//    allowed device is full, an augmenting path shifts replicas placed earlier in this same
//    rebalance (which move anyway, so this costs nothing) to make room; only then does a device
//    go over quota.
// 4. Dispersion repair: a partition with more replicas in a tier than the rule allows has one of
//    them moved to an allowed device.
// 5. Balance: devices over quota hand replicas to devices at least two below them, so every move
//    strictly improves balance and the total moved is what the quotas require.
// Steps 4 and 5 only touch a partition whose last move is older than min_part_hours, and at most
// one replica of a partition per rebalance, so replication always has a full set of the other
// replicas to copy from. Step 3 is exempt: a removed device's replica has to go somewhere.
import type { Dev } from './format.ts'
import { tierKeys } from './stats.ts'

/** "No device" in a partition table while the builder works. */
export const NONE = 0xffff
const EPS = 1e-6
const MAX_BALANCE_PASSES = 16
const AUGMENT_BUDGET = 50_000

/** Everything the algorithm reads; `lastMove` (epoch seconds per partition) is updated in place. */
export interface RebalanceInput {
  partPower: number
  replicas: number
  minPartHours: number
  devs: (Dev | null)[]
  /** Devices being removed: their replicas must move, whatever min_part_hours says. */
  removing: ReadonlySet<number>
  tables: Uint16Array[] | null
  lastMove: Uint32Array
  nowSec: number
  rng: () => number
}

/** The new tables, how many part-replicas changed device, and anything the operator should know. */
export interface RebalanceOutput {
  tables: Uint16Array[]
  moved: number
  warnings: string[]
}

/** Table lengths for a replica count: whole replicas cover every partition, a fraction fewer. */
export function tableLengths(partPower: number, replicas: number): number[] {
  const parts = 2 ** partPower
  const whole = Math.floor(replicas)
  const lens = new Array<number>(whole).fill(parts)
  const partial = Math.floor(parts * (replicas - whole))
  if (partial > 0) lens.push(partial)
  return lens
}

/** Deterministic PRNG (mulberry32) so a seeded rebalance is reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function shuffle<T>(a: T[], rng: () => number): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1))
    const x = a[i]; a[i] = a[j]; a[j] = x
  }
  return a
}

/** Runs one rebalance. Throws when no device has weight. */
export function rebalanceTables(input: RebalanceInput): RebalanceOutput {
  return new Rebalancer(input).run()
}

class Rebalancer {
  private readonly parts: number
  private readonly tables: Uint16Array[]
  private readonly old: Uint16Array[] | null
  private readonly activeIds: number[] = []
  private readonly tiers: Int32Array // 4 tier ids per device id
  private readonly tierMax: Float64Array
  private readonly cur: Int32Array
  private readonly target: Float64Array
  private readonly quota: Int32Array
  private readonly moved: Uint8Array
  private readonly freshOn = new Map<number, Set<number>>()
  private readonly warnings: string[] = []
  private relaxed = 0
  // Results of the last inspect(): how far past the dispersion rule, and how crowded.
  private over = 0
  private crowd = 0

  constructor(private readonly input: RebalanceInput) {
    const { partPower, replicas, devs, removing } = input
    this.parts = 2 ** partPower
    const lens = tableLengths(partPower, replicas)
    this.old = input.tables
    this.tables = lens.map((n, r) => {
      const t = new Uint16Array(n).fill(NONE)
      const prev = input.tables?.[r]
      if (prev) t.set(prev.subarray(0, Math.min(n, prev.length)))
      return t
    })
    const n = devs.length
    this.cur = new Int32Array(n)
    this.target = new Float64Array(n)
    this.quota = new Int32Array(n)
    this.moved = new Uint8Array(this.parts)
    for (const d of devs) if (d && !removing.has(d.id) && d.weight > 0) this.activeIds.push(d.id)
    if (this.activeIds.length === 0) throw new Error('no devices with weight to place partitions on')

    // Replicanths per device, capped and redistributed.
    const cap = Math.max(1, Math.ceil(replicas / this.activeIds.length - EPS))
    if (this.activeIds.length < Math.ceil(replicas - EPS)) {
      this.warnings.push(`${replicas} replicas but only ${this.activeIds.length} device(s) with weight: ` +
        'some devices hold several replicas of the same partition')
    }
    const rep = new Float64Array(n)
    let free = this.activeIds.slice()
    let toGive = replicas
    while (free.length > 0) {
      const w = free.reduce((s, id) => s + devs[id]!.weight, 0)
      for (const id of free) rep[id] = (devs[id]!.weight / w) * toGive
      const capped = new Set(free.filter((id) => rep[id] > cap + EPS))
      if (capped.size === 0) break
      for (const id of capped) { rep[id] = cap; toGive -= cap }
      free = free.filter((id) => !capped.has(id))
    }

    // Tier ids and each tier's per-partition maximum.
    const ids = new Map<string, number>()
    const maxes: number[] = []
    this.tiers = new Int32Array(n * 4).fill(-1)
    for (const d of devs) {
      if (!d) continue
      tierKeys(d).forEach((k, level) => {
        let t = ids.get(k)
        if (t === undefined) { t = ids.size; ids.set(k, t); maxes.push(0) }
        this.tiers[d.id * 4 + level] = t
        maxes[t] += rep[d.id]
      })
    }
    this.tierMax = Float64Array.from(maxes, (r) => Math.ceil(r - EPS))

    // Current holdings and integer quotas.
    for (const t of this.tables) {
      for (let p = 0; p < t.length; p++) {
        const id = t[p]
        if (id !== NONE && devs[id]) this.cur[id]++
      }
    }
    const slots = lens.reduce((s, l) => s + l, 0)
    let given = 0
    for (const id of this.activeIds) {
      this.target[id] = (rep[id] / replicas) * slots
      this.quota[id] = Math.floor(this.target[id] + EPS)
      given += this.quota[id]
    }
    const byRemainder = this.activeIds.slice().sort((a, b) =>
      (this.target[b] - this.quota[b]) - (this.target[a] - this.quota[a]) || this.cur[b] - this.cur[a] || a - b)
    for (let i = 0; given < slots; i = (i + 1) % byRemainder.length) { this.quota[byRemainder[i]]++; given++ }
  }

  run(): RebalanceOutput {
    this.placeForced()
    this.repairDispersion()
    this.balance()
    if (this.relaxed > 0) {
      this.warnings.push(`${this.relaxed} part-replica(s) could not be placed as dispersed as the ` +
        'topology wants (too few failure domains with room)')
    }
    let moved = 0
    const now = this.input.nowSec
    this.tables.forEach((t, r) => {
      const prev = this.old?.[r]
      for (let p = 0; p < t.length; p++) {
        if (!prev || p >= prev.length || prev[p] !== t[p]) {
          moved++
          this.input.lastMove[p] = now
        }
      }
    })
    return { tables: this.tables, moved, warnings: this.warnings }
  }

  private canMove(p: number): boolean {
    const { minPartHours, nowSec, lastMove } = this.input
    return !this.moved[p] && nowSec - lastMove[p] >= minPartHours * 3600
  }

  private isFresh(r: number, p: number, d: number): boolean {
    return this.freshOn.get(d)?.has(r * this.parts + p) ?? false
  }

  private assign(r: number, p: number, d: number): void {
    this.tables[r][p] = d
    this.cur[d]++
    let s = this.freshOn.get(d)
    if (!s) this.freshOn.set(d, (s = new Set()))
    s.add(r * this.parts + p)
  }

  private unassign(r: number, p: number): number {
    const d = this.tables[r][p]
    this.tables[r][p] = NONE
    if (d !== NONE && this.input.devs[d]) {
      this.cur[d]--
      this.freshOn.get(d)?.delete(r * this.parts + p)
    }
    return d
  }

  /**
   * Could device d take replica r of partition p (ignoring what r holds now)? Returns false when
   * d already holds its maximum of p; otherwise sets `over` (levels past the dispersion rule,
   * widest weighted most) and `crowd` (replicas already sharing d's region/zone/server).
   */
  private inspect(p: number, r: number, d: number): boolean {
    const tiers = this.tiers
    const td = d * 4
    let held = 0, nR = 0, nZ = 0, nS = 0
    for (let i = 0; i < this.tables.length; i++) {
      const t = this.tables[i]
      if (i === r || p >= t.length) continue
      const e = t[p]
      if (e === NONE) continue
      if (e === d) held++
      const te = e * 4
      if (tiers[te] !== tiers[td]) continue
      nR++
      if (tiers[te + 1] !== tiers[td + 1]) continue
      nZ++
      if (tiers[te + 2] === tiers[td + 2]) nS++
    }
    const max = this.tierMax
    if (held >= max[tiers[td + 3]]) return false
    const oR = Math.max(0, nR + 1 - max[tiers[td]])
    const oZ = Math.max(0, nZ + 1 - max[tiers[td + 1]])
    const oS = Math.max(0, nS + 1 - max[tiers[td + 2]])
    this.over = oR * 1e6 + oZ * 1e3 + oS
    this.crowd = nR * 1e6 + nZ * 1e3 + nS
    return true
  }

  /**
   * The best device for replica r of p among those allowed: not `exclude`, under `maxSurplus`
   * (cur − quota), within the dispersion rule unless `relax`. Fullest-last, then least crowded.
   */
  private choose(p: number, r: number, opts: { maxSurplus: number; exclude?: number; relax?: boolean }): number {
    let best = -1, bestOver = 0, bestFill = 0, bestCrowd = 0
    for (const d of this.activeIds) {
      if (d === opts.exclude || this.cur[d] - this.quota[d] > opts.maxSurplus) continue
      const fill = (this.cur[d] + 1) / this.target[d]
      if (best >= 0 && !opts.relax && fill > bestFill) continue
      if (!this.inspect(p, r, d)) continue
      if (this.over > 0 && !opts.relax) continue
      if (best < 0 || this.over < bestOver ||
          (this.over === bestOver && (fill < bestFill || (fill === bestFill && this.crowd < bestCrowd)))) {
        best = d; bestOver = this.over; bestFill = fill; bestCrowd = this.crowd
      }
    }
    return best
  }

  /** Places an unassigned slot: under quota if possible (directly or via an augmenting path). */
  private place(p: number, r: number): number {
    let d = this.choose(p, r, { maxSurplus: -1 })
    if (d >= 0) { this.assign(r, p, d); return d }
    if (this.augment(p, r)) return this.tables[r][p]
    d = this.choose(p, r, { maxSurplus: Infinity })
    if (d < 0) {
      d = this.choose(p, r, { maxSurplus: Infinity, relax: true })
      if (d < 0) throw new Error(`no device can hold another replica of partition ${p}`)
      this.relaxed++
    }
    this.assign(r, p, d)
    return d
  }

  /**
   * Breadth-first search for room: from the devices that could take (p, r), through replicas
   * placed earlier in this rebalance that could shift to another device, to a device under quota.
   * Partitions on the path are distinct, so each shift stays valid after the others.
   */
  private augment(p: number, r: number): boolean {
    const parent = new Map<number, { prev: number; key: number } | null>()
    const usedParts = new Set<number>([p])
    const queue: number[] = []
    for (const d of this.activeIds) {
      if (this.inspect(p, r, d) && this.over === 0) { parent.set(d, null); queue.push(d) }
    }
    let budget = AUGMENT_BUDGET
    for (let qi = 0; qi < queue.length; qi++) {
      const e = queue[qi]
      for (const key of this.freshOn.get(e) ?? []) {
        const q = key % this.parts
        const rq = (key - q) / this.parts
        if (usedParts.has(q)) continue
        for (const f of this.activeIds) {
          if (parent.has(f)) continue
          if (--budget < 0) return false
          if (!this.inspect(q, rq, f) || this.over > 0) continue
          parent.set(f, { prev: e, key })
          usedParts.add(q)
          if (this.cur[f] < this.quota[f]) {
            // Shift along the path back to its start, then place (p, r) there.
            let at = f
            for (let link = parent.get(at); link; link = parent.get(at)) {
              const lq = link.key % this.parts
              const lr = (link.key - lq) / this.parts
              this.unassign(lr, lq)
              this.assign(lr, lq, at)
              at = link.prev
            }
            this.assign(r, p, at)
            return true
          }
          queue.push(f)
          break
        }
      }
    }
    return false
  }

  private placeForced(): void {
    const { devs, removing } = this.input
    const todo: number[] = []
    this.tables.forEach((t, r) => {
      for (let p = 0; p < t.length; p++) {
        const d = t[p]
        if (d !== NONE && devs[d] && !removing.has(d)) continue
        if (d !== NONE) { this.unassign(r, p); this.moved[p] = 1 }
        todo.push(r * this.parts + p)
      }
    })
    for (const key of shuffle(todo, this.input.rng)) {
      const p = key % this.parts
      this.place(p, (key - p) / this.parts)
    }
  }

  private repairDispersion(): void {
    const order = shuffle(Array.from({ length: this.parts }, (_, i) => i), this.input.rng)
    for (const p of order) {
      if (!this.canMove(p)) continue
      let worst = -1, worstSurplus = -Infinity
      for (let r = 0; r < this.tables.length; r++) {
        if (p >= this.tables[r].length) continue
        const d = this.tables[r][p]
        const ok = this.inspect(p, r, d) && this.over === 0
        const surplus = this.cur[d] - this.quota[d]
        if (!ok && surplus > worstSurplus) { worst = r; worstSurplus = surplus }
      }
      if (worst < 0) continue
      const from = this.tables[worst][p]
      const to = this.choose(p, worst, { maxSurplus: Infinity, exclude: from })
      if (to < 0) continue
      this.unassign(worst, p)
      this.assign(worst, p, to)
      this.moved[p] = 1
    }
  }

  /**
   * Two stages: first over-quota devices give to under-quota ones (each such move is one the
   * quotas require); then, for what dispersion blocked, any move from a device to one at least
   * two further below quota (each strictly improves balance, so this terminates).
   */
  private balance(): void {
    this.balanceStage((sd) => sd > 0, (sd) => Math.min(-1, sd - 2))
    this.balanceStage(() => true, (sd) => sd - 2)
  }

  private balanceStage(isDonor: (surplus: number) => boolean, maxReceiver: (surplus: number) => number): void {
    const { devs } = this.input
    for (let pass = 0; pass < MAX_BALANCE_PASSES; pass++) {
      // Each device's slots, replicas placed in this rebalance first (moving them again is free).
      const slotsOf = new Map<number, number[]>()
      this.tables.forEach((t, r) => {
        for (let p = 0; p < t.length; p++) {
          let list = slotsOf.get(t[p])
          if (!list) slotsOf.set(t[p], (list = []))
          list.push(r * this.parts + p)
        }
      })
      const donors = [...slotsOf.keys()].filter((d) => devs[d] && isDonor(this.cur[d] - this.quota[d]))
        .sort((a, b) => (this.cur[b] - this.quota[b]) - (this.cur[a] - this.quota[a]))
      let movedAny = false
      for (const d of donors) {
        const fresh = this.freshOn.get(d)
        const all = shuffle(slotsOf.get(d)!, this.input.rng)
        const ordered = all.filter((k) => fresh?.has(k)).concat(all.filter((k) => !fresh?.has(k)))
        for (const key of ordered) {
          const surplus = this.cur[d] - this.quota[d]
          if (!isDonor(surplus)) break
          const limit = maxReceiver(surplus)
          if (!this.activeIds.some((e) => this.cur[e] - this.quota[e] <= limit)) break
          const p = key % this.parts
          const r = (key - p) / this.parts
          if (this.tables[r][p] !== d) continue
          const wasFresh = this.isFresh(r, p, d)
          if (!wasFresh && !this.canMove(p)) continue
          const to = this.choose(p, r, { maxSurplus: limit, exclude: d })
          if (to < 0) continue
          this.unassign(r, p)
          this.assign(r, p, to)
          if (!wasFresh) this.moved[p] = 1
          movedAny = true
        }
      }
      if (!movedAny) break
    }
  }
}
