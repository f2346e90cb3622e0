// The proxy's way to the storage nodes (Swift's proxy/controllers/base.py make_requests and
// GETorHEAD_base): a path is placed by the account, container or object ring; each request goes
// to a device's server, in this process when the device is served here (a BackendHandler looked
// up by "ip:port"), else over keep-alive HTTP. Writes fan out to every primary and succeed on a
// quorum, with handoffs standing in for primaries that fail; reads walk primaries then handoffs.
import type http from 'node:http'
import { Readable } from 'node:stream'
import type { HashConfig } from '../ring/hash.ts'
import type { Dev, Ring } from '../ring/ring.ts'
import { type BackendHandler, type BackendResponse, type BackendTarget, type StorageLogger, callBackend, drainBody, readBody } from '../storage/backend.ts'
import { type NodeAnswer, bestResponse, haveQuorum, quorumSize } from './quorum.ts'

/** Which ring places a path. */
export type RingKind = 'account' | 'container' | 'object'

/** One request as the proxy sends it to a device: `path` is the entity path ("/a/c/o", quoted). */
export interface NodeRequest {
  method: string
  path: string
  headers: Record<string, string>
  query?: URLSearchParams
  body?: Readable | Buffer
}

/** Options of a StorageClient. */
export interface StorageClientOptions {
  hashConfig: HashConfig
  rings: { account: Ring; container: Ring; object: Ring | ((policy: number) => Ring) }
  /** The storage server behind "ip:port" when it runs in this process. */
  local?: (host: string) => BackendHandler | undefined
  /** How long one backend request may stay silent (Swift's node_timeout). Default 10 s. */
  nodeTimeoutMs?: number
  /** After a quorum answered, how long the others get (Swift's post_quorum_timeout). Default 500 ms. */
  postQuorumTimeoutMs?: number
  /** Errors before a device is skipped, and for how long (Swift's error_suppression_*). Default 10, 60 s. */
  errorSuppression?: { limit: number; intervalMs: number }
  /** Keep-alive agent for remote nodes. */
  agent?: http.Agent
  logger?: StorageLogger
}

/** Largest backend body the proxy buffers (listings, error texts). */
const SMALL_BODY_LIMIT = 64 * 1024 * 1024

/** Percent-encodes one path segment as Swift's quote() (keeps "/" in object names). */
export function quote(s: string): string {
  return encodeURIComponent(s).replace(/%2F/g, '/')
}

/** The quoted entity path of an account, container or object: "/a", "/a/c", "/a/c/o". */
export function entityPath(account: string, container?: string, obj?: string): string {
  let p = '/' + quote(account)
  if (container !== undefined) p += '/' + quote(container)
  if (obj !== undefined) p += '/' + quote(obj)
  return p
}

/** "ip:port" of a device, with brackets for IPv6 as Swift's ring tools print it. */
export function hostOf(dev: Dev): string {
  return dev.ip.includes(':') ? `[${dev.ip}]:${dev.port}` : `${dev.ip}:${dev.port}`
}

/** A backend timestamp header as a comparable number of seconds (0 when absent or bad). */
function tsValue(h: Record<string, string>, names: readonly string[]): number {
  for (const n of names) {
    const v = h[n]
    if (v) {
      const x = Number(v.split('_')[0])
      if (Number.isFinite(x)) return x
    }
  }
  return 0
}

const DB_TS = ['x-backend-put-timestamp', 'x-put-timestamp', 'x-timestamp'] as const
const OBJ_TS = ['x-backend-timestamp', 'x-timestamp'] as const

/** Reads statuses that end a node walk for objects: the data (or its conditional answer) was found. */
const isGoodObjectStatus = (s: number) => (s >= 200 && s < 400) || s === 416

/** Talks to storage nodes through the rings; see the file comment. */
export class StorageClient {
  readonly hashConfig: HashConfig
  private readonly opts: StorageClientOptions
  private readonly nodeTimeoutMs: number
  private readonly postQuorumMs: number
  private readonly suppression: { limit: number; intervalMs: number }
  private readonly errors = new Map<string, { count: number; last: number }>()

  constructor(opts: StorageClientOptions) {
    this.opts = opts
    this.hashConfig = opts.hashConfig
    this.nodeTimeoutMs = opts.nodeTimeoutMs ?? 10_000
    this.postQuorumMs = opts.postQuorumTimeoutMs ?? 500
    this.suppression = opts.errorSuppression ?? { limit: 10, intervalMs: 60_000 }
  }

  /** The ring of a kind (object rings by storage policy index). */
  ring(kind: RingKind, policy = 0): Ring {
    if (kind !== 'object') return this.opts.rings[kind]
    const r = this.opts.rings.object
    return typeof r === 'function' ? r(policy) : r
  }

  /** Where a storage host ("ip:port") is reached: its in-process handler, else its URL. */
  route(host: string): BackendTarget {
    return this.opts.local?.(host) ?? `http://${host}`
  }

  /** Sends one request to one device. Rejects only when no answer could be had. */
  send(dev: Dev, part: number, r: NodeRequest): Promise<BackendResponse> {
    const path = `/${encodeURIComponent(dev.device)}/${part}${r.path}`
    return callBackend(this.route(hostOf(dev)), { method: r.method, path, headers: { ...r.headers }, query: r.query, body: r.body },
      { timeoutMs: this.nodeTimeoutMs, agent: this.opts.agent })
  }

  // ------------------------------------------------------------------ error limiting

  private key(dev: Dev): string { return `${hostOf(dev)}/${dev.device}` }

  /** True while a device is skipped after too many errors (Swift's error_limited). */
  isLimited(dev: Dev): boolean {
    const e = this.errors.get(this.key(dev))
    if (!e) return false
    if (Date.now() - e.last > this.suppression.intervalMs) { this.errors.delete(this.key(dev)); return false }
    return e.count > this.suppression.limit
  }

  /** Counts an error against a device; `limitNow` (a 507) skips it at once. */
  nodeError(dev: Dev, what: string, limitNow = false): void {
    const k = this.key(dev)
    const e = this.errors.get(k) ?? { count: 0, last: 0 }
    e.count = limitNow ? this.suppression.limit + 1 : e.count + 1
    e.last = Date.now()
    this.errors.set(k, e)
    this.opts.logger?.warn({ node: k, errors: e.count }, what)
  }

  /** Forgets all error counts (tests, and after an operator fixed a device). */
  resetErrors(): void { this.errors.clear() }

  /** Primaries (unless error-limited) then handoffs, at most `max` devices in all. */
  *nodes(ring: Ring, part: number, max = Infinity): Generator<Dev> {
    let n = 0
    for (const d of ring.getPartNodes(part)) {
      if (n >= max) return
      if (this.isLimited(d)) continue
      n++
      yield d
    }
    for (const d of ring.getMoreNodes(part)) {
      if (n >= max) return
      if (this.isLimited(d)) continue
      n++
      yield d
    }
  }

  /** Swift's request_node_count: how many devices a read may try. */
  requestNodeCount(ring: Ring): number {
    return 2 * Math.ceil(ring.replicas)
  }

  /**
   * Tries devices from `nodes` until one gives a non-5xx answer (Swift's _make_request): 507
   * error-limits the device, other 5xx and failures count against it. Null when none answered.
   */
  private async firstAnswer(nodes: Iterator<Dev>, part: number, r: () => NodeRequest): Promise<{ dev: Dev; resp: BackendResponse } | null> {
    for (let it = nodes.next(); !it.done; it = nodes.next()) {
      const dev = it.value
      let resp: BackendResponse
      try {
        resp = await this.send(dev, part, r())
      } catch (err) {
        this.nodeError(dev, `backend request failed: ${(err as Error).message}`)
        continue
      }
      if (resp.status >= 500) {
        drainBody(resp)
        this.nodeError(dev, `backend answered ${resp.status}`, resp.status === 507)
        continue
      }
      return { dev, resp }
    }
    return null
  }

  /**
   * Swift's make_requests: one request per entry of `headers` (one per primary), each sent to
   * the next device that answers (primaries, then handoffs); waits for a quorum, gives the rest
   * post_quorum_timeout, counts the missing as 503 and returns the best response.
   */
  async writeAll(kind: RingKind, part: number, method: string, path: string, headers: Record<string, string>[],
                 opts: { query?: URLSearchParams; body?: Buffer; overrides?: Record<number, number>; policy?: number } = {}): Promise<NodeAnswer> {
    const ring = this.ring(kind, opts.policy)
    const nodeCount = ring.getPartNodes(part).length
    const iter = this.nodes(ring, part)
    const answers: NodeAnswer[] = []
    const tasks = headers.map(async (h) => {
      const got = await this.firstAnswer(iter, part, () => ({ method, path, headers: h, query: opts.query, body: opts.body }))
      if (!got) return
      let body: Buffer
      try { body = await readBody(got.resp, SMALL_BODY_LIMIT) } catch { return }
      answers.push({ status: got.resp.status, headers: got.resp.headers, body })
    })
    await this.quorumWait(tasks, answers, nodeCount)
    const all = answers.slice()
    while (all.length < nodeCount) all.push({ status: 503, headers: {}, body: Buffer.alloc(0) })
    return bestResponse(all, { overrides: opts.overrides }) ?? { status: 503, headers: {}, body: Buffer.alloc(0) }
  }

  /** Waits until `answers` reach a quorum (or all tasks end), then up to post_quorum_timeout more. */
  private quorumWait(tasks: Promise<void>[], answers: NodeAnswer[], nodeCount: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let pending = tasks.length
      let timer: NodeJS.Timeout | undefined
      const done = () => { clearTimeout(timer); resolve() }
      if (pending === 0) { resolve(); return }
      const settled = () => {
        if (--pending === 0) { done(); return }
        if (!timer && haveQuorum(answers.map((a) => a.status), nodeCount)) timer = setTimeout(done, this.postQuorumMs)
      }
      for (const t of tasks) t.then(settled, settled)
    })
  }

  /**
   * GET or HEAD of an account or container: every primary is asked (HEAD) and the newest answer
   * (by put timestamp, ties to the first primary) wins, as Swift with X-Newest; a GET then
   * reads the listing from that node, falling back to the next-newest. Without a 2xx: 404 when
   * all answered 404, else the best response or 503. Bodies come back buffered.
   */
  async readNewest(kind: 'account' | 'container', part: number, method: 'GET' | 'HEAD', path: string,
                   headers: Record<string, string>, query?: URLSearchParams): Promise<NodeAnswer> {
    const ring = this.ring(kind)
    const primaries = ring.getPartNodes(part)
    const iter = this.nodes(ring, part, this.requestNodeCount(ring))
    const found: { dev: Dev; answer: NodeAnswer; order: number }[] = []
    const others: NodeAnswer[] = []
    await Promise.all(primaries.map(async (_p, order) => {
      const got = await this.firstAnswer(iter, part, () => ({ method: 'HEAD', path, headers }))
      if (!got) return
      drainBody(got.resp)
      const answer = { status: got.resp.status, headers: got.resp.headers, body: Buffer.alloc(0) }
      if (answer.status >= 200 && answer.status < 300) found.push({ dev: got.dev, answer, order })
      else others.push(answer)
    }))
    found.sort((a, b) => (tsValue(b.answer.headers, DB_TS) - tsValue(a.answer.headers, DB_TS)) || a.order - b.order)
    if (method === 'HEAD' && found.length) return found[0].answer
    for (const f of found) {
      try {
        const resp = await this.send(f.dev, part, { method: 'GET', path, headers, query })
        if (resp.status >= 500) { drainBody(resp); this.nodeError(f.dev, `backend answered ${resp.status}`, resp.status === 507); continue }
        return { status: resp.status, headers: resp.headers, body: await readBody(resp, SMALL_BODY_LIMIT) }
      } catch (err) {
        this.nodeError(f.dev, `backend request failed: ${(err as Error).message}`)
      }
    }
    if (found.length) return { status: 503, headers: {}, body: Buffer.alloc(0) }
    const all = others.slice()
    while (all.length < primaries.length) all.push({ status: 503, headers: {}, body: Buffer.alloc(0) })
    return bestResponse(all) ?? { status: 503, headers: {}, body: Buffer.alloc(0) }
  }

  /**
   * GET or HEAD of an object: devices are tried one after another (primaries, then handoffs,
   * at most request_node_count) until one has the object (2xx, 3xx or 416), whose response is
   * returned with its body still streaming. Otherwise the best of the answers (404 when they
   * agree), or 503. With `newest`, every primary is asked and the newest X-Timestamp wins.
   */
  async readObject(part: number, method: 'GET' | 'HEAD', path: string, headers: Record<string, string>,
                   opts: { newest?: boolean; policy?: number } = {}): Promise<BackendResponse> {
    const ring = this.ring('object', opts.policy)
    const iter = this.nodes(ring, part, this.requestNodeCount(ring))
    const seen: NodeAnswer[] = []
    if (opts.newest) {
      const primaries = ring.getPartNodes(part)
      const good: BackendResponse[] = []
      await Promise.all(primaries.map(async () => {
        const got = await this.firstAnswer(iter, part, () => ({ method, path, headers }))
        if (!got) return
        if (isGoodObjectStatus(got.resp.status)) good.push(got.resp)
        else seen.push({ status: got.resp.status, headers: got.resp.headers, body: await readBody(got.resp, SMALL_BODY_LIMIT).catch(() => Buffer.alloc(0)) })
      }))
      good.sort((a, b) => tsValue(b.headers, OBJ_TS) - tsValue(a.headers, OBJ_TS))
      for (const r of good.slice(1)) discard(r)
      if (good.length) return good[0]
      while (seen.length < primaries.length) seen.push({ status: 503, headers: {}, body: Buffer.alloc(0) })
    } else {
      for (;;) {
        const got = await this.firstAnswer(iter, part, () => ({ method, path, headers }))
        if (!got) break
        if (isGoodObjectStatus(got.resp.status)) return got.resp
        seen.push({ status: got.resp.status, headers: got.resp.headers, body: await readBody(got.resp, SMALL_BODY_LIMIT).catch(() => Buffer.alloc(0)) })
      }
      while (seen.length < ring.getPartNodes(part).length) seen.push({ status: 503, headers: {}, body: Buffer.alloc(0) })
    }
    const best = bestResponse(seen)
    return best ? { status: best.status, headers: best.headers, body: best.body } : { status: 503, headers: {}, body: Buffer.alloc(0) }
  }

  /** Primary count and quorum of a ring (what a write must reach). */
  quorumOf(kind: RingKind, part: number, policy = 0): { nodes: number; quorum: number } {
    const n = this.ring(kind, policy).getPartNodes(part).length
    return { nodes: n, quorum: quorumSize(n) }
  }
}

/** Releases a response that will not be used (destroying a stream frees its file handle). */
export function discard(r: BackendResponse): void {
  if (r.body instanceof Readable) r.body.destroy()
}
