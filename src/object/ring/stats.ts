// Figures about an assignment that the builder, `cumulo ring show` and tests all report the
// same way: partitions per device, balance (Swift's get_balance) and dispersion (Swift's
// dispersion: how many part-replicas sit closer together than the topology requires).
import type { Dev } from './format.ts'

/** Swift shows this balance for a zero-weight device that still holds partitions. */
export const MAX_BALANCE = 999.99

/**
 * The failure-domain tiers of a device, widest first: region, zone, server (ip:port), device.
 * Swift's tiers_for_dev uses the ip alone for the server tier; Cumulo keys servers by ip:port
 * because one host commonly runs several storage nodes on different ports (all-in-one, tests).
 */
export function tierKeys(d: Dev): [string, string, string, string] {
  const region = `r${d.region}`
  const zone = `${region}z${d.zone}`
  const server = `${zone}-${d.ip}:${d.port}`
  return [region, zone, server, `${server}/${d.id}`]
}

/** Part-replicas held by each device id. */
export function partCounts(devCount: number, tables: Uint16Array[]): Int32Array {
  const counts = new Int32Array(devCount)
  for (const t of tables) {
    for (let p = 0; p < t.length; p++) if (t[p] < devCount) counts[t[p]]++
  }
  return counts
}

/** One device's share: partitions held, partitions its weight asks for, and the % difference. */
export interface DevBalance {
  id: number
  parts: number
  wanted: number
  balance: number
}

/**
 * Per-device balance as Swift computes it: 100 × parts / (weight × parts-per-unit-weight) − 100,
 * where parts-per-unit-weight spreads all part-replicas over the total weight.
 */
export function deviceBalances(devs: (Dev | null)[], tables: Uint16Array[]): DevBalance[] {
  const counts = partCounts(devs.length, tables)
  const slots = tables.reduce((n, t) => n + t.length, 0)
  const totalWeight = devs.reduce((w, d) => w + (d ? d.weight : 0), 0)
  const perWeight = totalWeight > 0 ? slots / totalWeight : 0
  const out: DevBalance[] = []
  for (const d of devs) {
    if (!d) continue
    const parts = counts[d.id]
    const wanted = d.weight * perWeight
    const balance = slots === 0 ? 0 : d.weight > 0 ? (100 * parts) / wanted - 100 : parts > 0 ? MAX_BALANCE : 0
    out.push({ id: d.id, parts, wanted, balance })
  }
  return out
}

/** The ring's balance: the worst device's |balance| (0 is perfect). */
export function overallBalance(balances: DevBalance[]): number {
  return balances.reduce((m, b) => Math.max(m, Math.abs(b.balance)), 0)
}

/**
 * Swift's dispersion: the percentage of part-replicas placed in a tier that already holds as
 * many replicas of that partition as the topology allows (ceil(replicas / siblings) at each
 * level, one per device), counted once per partition at its worst tier. 0 means every partition
 * is spread as widely as the devices permit; weights are not considered.
 */
export function dispersion(devs: (Dev | null)[], tables: Uint16Array[]): number {
  const replicas = tables.length - 1 + tables[tables.length - 1].length / tables[0].length
  // Build the tier tree of weighted devices and walk it to get each tier's allowed maximum.
  const children = new Map<string, Set<string>>()
  const keysOf: ([string, string, string, string] | undefined)[] = []
  const depthOf = new Map<string, number>()
  for (const d of devs) {
    if (!d) continue
    keysOf[d.id] = tierKeys(d)
    keysOf[d.id]!.forEach((k, i) => depthOf.set(k, i))
    if (d.weight <= 0) continue
    let parent = ''
    for (const k of keysOf[d.id]!) {
      if (!children.has(parent)) children.set(parent, new Set())
      children.get(parent)!.add(k)
      parent = k
    }
  }
  const maxAt = new Map<string, number>()
  const walk = (tier: string, count: number, depth: number) => {
    const c = depth === 4 ? Math.min(1, count) : count
    maxAt.set(tier, c)
    const kids = children.get(tier)
    if (kids) for (const k of kids) walk(k, Math.ceil(c / kids.size), depth + 1)
  }
  walk('', replicas, 0)
  let atRisk = 0
  const seen = new Map<string, number>()
  for (let p = 0; p < tables[0].length; p++) {
    seen.clear()
    for (const t of tables) {
      if (p >= t.length) continue
      const keys = keysOf[t[p]]
      if (keys) for (const k of keys) seen.set(k, (seen.get(k) ?? 0) + 1)
    }
    const depthRisk = [0, 0, 0, 0]
    for (const [k, n] of seen) {
      const over = n - (maxAt.get(k) ?? 0)
      if (over > 0) {
        depthRisk[depthOf.get(k)!] += over
      }
    }
    atRisk += Math.max(...depthRisk)
  }
  const slots = tables.reduce((n, t) => n + t.length, 0)
  return slots ? (100 * atRisk) / slots : 0
}
