// Options and helpers the object-store daemons share: which ring devices are this node's, how
// another node is reached, bounded concurrency and rate limiting.
import type { HashConfig } from '../ring/hash.ts'
import type { Dev, Ring } from '../ring/ring.ts'
import type { BackendTarget, StorageLogger } from '../storage/backend.ts'
import { sleep } from './daemon.ts'

/** Which storage server of a device a daemon wants (lets one ip:port serve all three). */
export type StorageServerKind = 'object' | 'container' | 'account'

/**
 * How a daemon reaches the storage server of a ring device: the in-process BackendHandler when
 * the device is on this node, else `http://ip:port` (what `callBackend` takes). `server` says
 * which ring the device came from.
 */
export type NodeClient = (dev: Dev, server: StorageServerKind) => BackendTarget

/** What every daemon is configured with. */
export interface DaemonOptions {
  /** Directory holding one directory per device (Swift's `devices`). */
  devicesRoot: string
  /** Only these devices (Swift's override_devices); default every local ring device. */
  devices?: readonly string[]
  /** The cluster's hash_path prefix/suffix. */
  hashConfig: HashConfig
  /** "ip:port" of this node's servers ("[v6]:port" for IPv6): the ring devices with one of these are local. */
  myNodes: ReadonlySet<string>
  /** Reaches another device's server (use callBackend semantics: handler or URL). */
  client: NodeClient
  logger?: StorageLogger
  /** Timeout of one backend request to another node (Swift's node_timeout), ms. Default 10 s. */
  timeoutMs?: number
}

/** A logger that drops everything (the default). */
export const silentLogger: StorageLogger = { error() {}, warn() {}, info() {}, debug() {} }

/** "ip:port" of a ring device, as `myNodes` holds them (an IPv6 address in brackets, as in X-Container-Host). */
export function nodeKey(dev: Pick<Dev, 'ip' | 'port'>): string {
  return dev.ip.includes(':') ? `[${dev.ip}]:${dev.port}` : `${dev.ip}:${dev.port}`
}

/** The ring's devices on this node (optionally only `only`), one per device name. */
export function localDevs(ring: Ring, myNodes: ReadonlySet<string>, only?: readonly string[]): Dev[] {
  const seen = new Set<string>()
  const out: Dev[] = []
  for (const d of ring.devs) {
    if (!d || !myNodes.has(nodeKey(d)) || seen.has(d.device)) continue
    if (only && !only.includes(d.device)) continue
    seen.add(d.device)
    out.push(d)
  }
  return out
}

/** True when two ring entries are the same device (same node, same device name). */
export function sameDevice(a: Dev, b: Dev): boolean {
  return a.id === b.id || (a.device === b.device && a.ip === b.ip && a.port === b.port)
}

/**
 * Runs `fn` over `items` with at most `limit` calls in flight. Every item is attempted; the
 * first error (if any) is rethrown once all calls have settled.
 */
export async function mapLimit<T>(items: Iterable<T>, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const it = items[Symbol.iterator]()
  let firstErr: unknown
  let failed = false
  const worker = async () => {
    for (let next = it.next(); !next.done; next = it.next()) {
      try { await fn(next.value) } catch (err) { if (!failed) { failed = true; firstErr = err } }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker))
  if (failed) throw firstErr
}

/** Fisher–Yates shuffle in place (Swift shuffles jobs so nodes do not all start on the same partition). */
export function shuffle<T>(a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[a[i], a[j]] = [a[j], a[i]]
  }
  return a
}

/** Clock and sleep a RateLimiter uses (injectable for tests). */
export interface LimiterClock {
  now(): number
  sleep(ms: number, signal?: AbortSignal): Promise<void>
}

const realClock: LimiterClock = { now: () => performance.now(), sleep }

/**
 * Keeps a long-running consumer at or under `perSecond` units (bytes, files) on average, as
 * Swift's ratelimit_sleep: each `take(n)` books n/perSecond seconds and sleeps when the bookings
 * run ahead of the clock. Up to `burstMs` of unused time is credited, so short pauses are not
 * made up by flooding. A rate of 0 or Infinity does not limit.
 */
export class RateLimiter {
  private next = -Infinity

  constructor(private readonly perSecond: number, private readonly burstMs = 1000, private readonly clock: LimiterClock = realClock) {}

  /** Books `n` units, sleeping if over the rate. Returns early (no error) when `signal` aborts. */
  async take(n: number, signal?: AbortSignal): Promise<void> {
    if (!(this.perSecond > 0) || this.perSecond === Infinity || n <= 0) return
    const now = this.clock.now()
    this.next = Math.max(this.next, now - this.burstMs) + (n * 1000) / this.perSecond
    const wait = this.next - now
    if (wait > 0) await this.clock.sleep(wait, signal)
  }
}
