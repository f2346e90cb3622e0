// The object store in this process, on real sockets, for the fault and bad-input tests: an
// identity service (for tokens), the Swift proxy with S3 (an EC2 key of the admin project) on
// 127.0.0.1 and a free port, real account/container/object servers on temp devices, and the
// daemons built but not running, so a test runs their passes itself. Plus helpers that speak
// HTTP as an ordinary client would (including a cut body) and raw bytes on a socket (a lying
// Content-Length), and that find an object's files on each device.
import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import http from 'node:http'
import net, { type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createCore } from '../../src/core/index.ts'
import { type IdentityHarness, identityHarness } from '../../src/identity/testing.ts'
import { type ObjectStore, createObjectStore } from '../../src/object/index.ts'
import { hashPath } from '../../src/object/ring/hash.ts'
import type { Dev } from '../../src/object/ring/ring.ts'
import { S3TestClient } from '../../src/object/s3/testing.ts'

/** The EC2 key the fixture's S3 client signs with (the admin project's). */
export const S3_KEY = { accessKey: 'AKIAFAULTTEST', secret: 'fault-test-secret' }

/** A response as a client saw it: `complete` is false when the body was cut short. */
export interface HttpResult {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
  text: string
  complete: boolean
  error?: string
}

/** Where an object (or a container DB) lives: partition, hash, primary devices, directory per device. */
export interface Placement {
  partition: number
  hash: string
  nodes: Dev[]
  /** The hash directory on one device (objects/<part>/<suffix>/<hash> or containers/…). */
  dir(device: string): string
}

/** The running store and its helpers. */
export interface ObjectCloud {
  store: ObjectStore
  h: IdentityHarness
  /** The data dir (DATA_DIR/object): hash.json, rings, devices/. */
  dir: string
  devicesRoot: string
  url: string
  port: number
  /** AUTH_<admin project>. */
  account: string
  /** A client signing with S3_KEY. */
  s3: S3TestClient
  /** An HTTP request to the Swift API; `path` below /v1/<account> (e.g. '/c/o'); admin token unless given (null: none). */
  swift(method: string, path: string, o?: { headers?: Record<string, string>; body?: Buffer | string; token?: string | null }): Promise<HttpResult>
  /** Where an object lives. */
  objectPlacement(container: string, obj: string): Placement
  /** Where a container DB lives. */
  containerPlacement(container: string): Placement
  /**
   * Lowers the proxy's client_timeout (how long an upload may stall; 60 s) so a test can see it
   * expire. The store does not publish it: this reaches the proxy context its S3 layer holds.
   */
  setClientTimeout(ms: number): void
  close(): Promise<void>
}

/** Options of the fixture. */
export interface ObjectCloudOptions {
  /** Device names (default d1, d2, d3: three replicas). */
  devices?: string[]
  /** Default 4 (16 partitions). */
  partPower?: number
  /**
   * An existing data dir (rings and hash.json already there, e.g. a NodeCluster's root): it is
   * left in place on close. Default: a new temp dir, removed on close.
   */
  dataDir?: string
  /**
   * This node's address in the rings (default 127.0.0.1). With an address no ring device has,
   * the proxy reaches every storage server over HTTP (storage nodes in other processes).
   */
  host?: string
}

/** Starts the fixture (see the file comment). */
export async function startObjectCloud(o: ObjectCloudOptions = {}): Promise<ObjectCloud> {
  const h = await identityHarness()
  const dir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'cumulo-objcloud-'))
  const removeDir = () => { if (!o.dataDir) rmSync(dir, { recursive: true, force: true }) }
  const core = createCore({ database: 'sqlite::memory:', logLevel: 'silent' })
  const keys = new Map([[S3_KEY.accessKey, { secret: S3_KEY.secret, projectId: h.adminProjectId, userId: h.adminUserId }]])
  let store: ObjectStore
  try {
    store = await createObjectStore(core, {
      auth: h.identity.auth, dataDir: dir, partPower: o.partPower ?? 4, devices: o.devices, daemons: false, host: o.host,
      ec2Credentials: async (ak) => keys.get(ak),
    })
    await store.api.listen({ host: '127.0.0.1', port: 0 })
  } catch (err) {
    await core.db.close(); await h.close(); removeDir()
    throw err
  }
  const port = (store.api.server.address() as AddressInfo).port
  const url = `http://127.0.0.1:${port}`
  const account = `AUTH_${h.adminProjectId}`
  const devicesRoot = store.cluster.devicesRoot
  const placement = (kind: 'object' | 'container', container: string, obj?: string): Placement => {
    const ring = store.cluster.rings[kind]
    const hash = hashPath(store.cluster.hashConfig, account, container, obj)
    const { partition, nodes } = ring.getNodes(store.cluster.hashConfig, account, container, obj)
    const top = kind === 'object' ? 'objects' : 'containers'
    return { partition, hash, nodes, dir: (device) => join(devicesRoot, device, top, String(partition), hash.slice(-3), hash) }
  }
  return {
    store, h, dir, devicesRoot, url, port, account,
    s3: new S3TestClient(url, { ...S3_KEY, region: 'RegionOne' }),
    swift(method, path, opts = {}) {
      const headers: Record<string, string> = { ...opts.headers }
      const token = opts.token === undefined ? h.adminToken : opts.token
      if (token) headers['x-auth-token'] = token
      return httpRequest(method, `${url}/v1/${account}${path}`, headers, opts.body)
    },
    objectPlacement: (c, obj) => placement('object', c, obj),
    containerPlacement: (c) => placement('container', c),
    setClientTimeout(ms) {
      const ctx = (store.s3Storage as unknown as { ctx?: { clientTimeoutMs?: number } }).ctx
      if (typeof ctx?.clientTimeoutMs !== 'number') throw new Error('the proxy context is no longer reachable from s3Storage: update setClientTimeout')
      ctx.clientTimeoutMs = ms
    },
    async close() {
      await store.close()
      await core.db.close()
      await h.close()
      removeDir()
    },
  }
}

/** One HTTP request on a fresh connection; never rejects (a connection error is status 0). */
export function httpRequest(method: string, url: string, headers: Record<string, string> = {}, body?: Buffer | string): Promise<HttpResult> {
  return new Promise((resolve) => {
    const u = new URL(url)
    const h = { ...headers }
    if (body !== undefined && h['content-length'] === undefined && h['transfer-encoding'] === undefined) h['content-length'] = String(Buffer.byteLength(body))
    const req = http.request({ method, host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, headers: h, agent: false }, (res) => {
      const chunks: Buffer[] = []
      let error: string | undefined
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', (err) => { error = err.message })
      res.on('close', () => {
        const b = Buffer.concat(chunks)
        const declared = res.headers['content-length']
        const complete = res.complete && !error && (declared === undefined || method === 'HEAD' || Number(declared) === b.length)
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b, text: b.toString('utf8'), complete, error })
      })
    })
    req.on('error', (err) => resolve({ status: 0, headers: {}, body: Buffer.alloc(0), text: '', complete: false, error: err.message }))
    req.end(body)
  })
}

/** What came back on a raw socket: every byte the server sent before closing (or the wait ending). */
export interface RawResult {
  raw: string
  /** Status of the first response, or 0 when none came. */
  status: number
  /** Status codes of every response on the connection, in order. */
  statuses: number[]
  /** The server closed the connection. */
  closed: boolean
}

/**
 * Writes `head` (request line and headers, CRLF-separated, ending with a blank line) and `body`
 * on a new connection. `then`: 'wait' keeps the socket open, 'half-close' ends our side (FIN),
 * 'close' destroys it after `afterMs`. Collects the answer until the server closes or `waitMs` passes.
 */
export function rawRequest(port: number, head: string, body: Buffer, o: { then?: 'wait' | 'half-close' | 'close'; afterMs?: number; waitMs?: number } = {}): Promise<RawResult> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true })
    const chunks: Buffer[] = []
    let closed = false
    let done = false
    const finish = () => {
      if (done) return
      done = true
      clearTimeout(timer)
      clearTimeout(idle)
      sock.destroy()
      const raw = Buffer.concat(chunks).toString('latin1')
      const statuses = [...raw.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]))
      resolve({ raw, status: statuses[0] ?? 0, statuses, closed })
    }
    const timer = setTimeout(finish, o.waitMs ?? 5000)
    // A connection kept alive after complete answers ends the wait shortly after the last one.
    let idle: NodeJS.Timeout | undefined
    sock.on('data', (c: Buffer) => {
      chunks.push(c)
      clearTimeout(idle)
      if (answersComplete(Buffer.concat(chunks).toString('latin1'))) idle = setTimeout(finish, 150)
    })
    sock.on('end', () => { closed = true; finish() })
    sock.on('close', () => { closed = true; finish() })
    sock.on('error', () => { closed = true; finish() })
    sock.write(head)
    sock.write(body)
    const then = o.then ?? 'wait'
    if (then === 'half-close') setTimeout(() => sock.end(), o.afterMs ?? 50)
    if (then === 'close') setTimeout(() => { closed = true; finish() }, o.afterMs ?? 50)
  })
}

/** True when `raw` ends with complete responses (each with a Content-Length body). */
function answersComplete(raw: string): boolean {
  let at = 0
  while (at < raw.length) {
    const end = raw.indexOf('\r\n\r\n', at)
    if (end < 0) return false
    const m = /\r\ncontent-length: *(\d+)/i.exec(raw.slice(at, end))
    if (!m) return false
    at = end + 4 + Number(m[1])
  }
  return at === raw.length
}

/** The .data/.ts/.meta files in a hash directory (empty when there is none). */
export function filesIn(dir: string): string[] {
  try { return readdirSync(dir).sort() } catch { return [] }
}

/** MD5 hex of a buffer. */
export const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex')
