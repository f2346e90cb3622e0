// The container sync daemon's I/O: reading the newest replica of a source object from this
// cluster's object servers (Swift's X-Newest GET through its internal client), sending signed
// requests to the destination cluster's proxy, and writing a DB's sync points.
import http from 'node:http'
import https from 'node:https'
import { randomUUID } from 'node:crypto'
import type { Readable } from 'node:stream'
import { pyQuote, syncSignature } from '../proxy/container-sync-realms.ts'
import type { HashConfig } from '../ring/hash.ts'
import type { Ring } from '../ring/ring.ts'
import { Timestamp } from '../ring/timestamp.ts'
import { type BackendResponse, callBackend, drainBody } from '../storage/backend.ts'
import { openDbFile } from '../storage/db-broker.ts'
import type { NodeClient } from './common.ts'
import { objectPath } from './object-push.ts'

/** Where one container syncs to, and how its requests are authorized. */
export interface SyncDestination {
  /** "http(s)://host:port" of the destination proxy. */
  origin: string
  /** The destination container's URL-encoded path (…/v1/<account>/<container>), what signatures cover. */
  basePath: string
  /** The container's X-Container-Sync-Key. */
  userKey: string
  /** Set for realm destinations: requests carry X-Container-Sync-Auth; else X-Container-Sync-Key. */
  realm?: string
  realmKey?: string
}

/** A destination's answer. */
export interface RemoteAnswer { status: number; headers: Record<string, string> }

/** Requests to destination proxies over keep-alive connections (closed by `close`). */
export class SyncHttp {
  private agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) }

  /** @param timeoutMs idle timeout of one request */
  constructor(private readonly timeoutMs = 20_000) {}

  /** One object request, signed as Swift's _update_sync_to_headers; the answer's body is read and dropped. */
  async request(dest: SyncDestination, method: string, name: string, headers: Record<string, string>,
                body?: Readable | Buffer): Promise<RemoteAnswer> {
    const path = `${dest.basePath}/${pyQuote(name)}`
    const h: Record<string, string> = { ...headers, 'user-agent': 'Swift Container Sync' }
    if (dest.realm && dest.realmKey) {
      const nonce = randomUUID().replace(/-/g, '')
      h['x-container-sync-auth'] = `${dest.realm} ${nonce} ${syncSignature(method, path, h['x-timestamp'] ?? '0', nonce, dest.realmKey, dest.userKey)}`
    } else {
      h['x-container-sync-key'] = dest.userKey
    }
    const url = new URL(dest.origin)
    const secure = url.protocol === 'https:'
    const stream = body !== undefined && !Buffer.isBuffer(body) ? body : undefined
    let res: http.IncomingMessage
    try {
      res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const req = (secure ? https : http).request({
          host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port || (secure ? 443 : 80), method, path, headers: h,
          agent: secure ? this.agents.https : this.agents.http,
        })
        req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`container sync: timeout ${method} ${path}`)))
        req.on('error', reject) // settles once; later errors (a refused body) are expected and ignored
        req.once('response', resolve)
        if (stream) {
          stream.once('error', (err) => req.destroy(err))
          stream.pipe(req)
        } else {
          req.end(body)
        }
      })
    } finally {
      // The answer may come before the body is sent (a refusal): the rest of the source is not read.
      if (stream && !stream.readableEnded) stream.destroy()
    }
    res.resume()
    await new Promise<void>((resolve) => { res.once('end', resolve); res.once('close', resolve) })
    const out: Record<string, string> = {}
    for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') out[k] = v
    return { status: res.statusCode ?? 0, headers: out }
  }

  /** Closes idle connections (new requests open new ones). */
  close(): void {
    this.agents.http.destroy()
    this.agents.https.destroy()
    this.agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) }
  }
}

/** How the daemon reaches this cluster's object servers. */
export interface SourceReader {
  client: NodeClient
  hashConfig: HashConfig
  objectRing: Ring
  policyRings?: Readonly<Record<number, Ring>>
  timeoutMs?: number
}

/**
 * The newest replica of an object (Swift's X-Newest): every primary is asked with HEAD, then
 * the newest answers the GET (the next newest if it fails). The body streams; undefined when no
 * replica has it.
 */
export async function readNewest(o: SourceReader, account: string, container: string, name: string,
                                 policy: number): Promise<BackendResponse | undefined> {
  const ring = policy === 0 ? o.objectRing : o.policyRings?.[policy]
  if (!ring) return undefined
  const { partition, nodes } = ring.getNodes(o.hashConfig, account, container, name)
  const fullName = `/${account}/${container}/${name}`
  const headers = { 'x-backend-storage-policy-index': String(policy), 'user-agent': 'container-sync' }
  const timeoutMs = o.timeoutMs ?? 10_000
  const call = (dev: (typeof nodes)[number], method: string) =>
    callBackend(o.client(dev, 'object'), { method, path: objectPath(dev.device, String(partition), fullName), headers }, { timeoutMs })
  const heads = await Promise.all(nodes.map(async (dev) => {
    try {
      const r = await call(dev, 'HEAD')
      drainBody(r)
      return { dev, ts: r.status >= 200 && r.status < 300 ? safeTimestamp(r.headers['x-timestamp']) : undefined }
    } catch { return { dev, ts: undefined } }
  }))
  const ranked = heads.filter((h) => h.ts).sort((a, b) => b.ts!.compare(a.ts!))
  for (const { dev } of ranked) {
    try {
      const r = await call(dev, 'GET')
      if (r.status >= 200 && r.status < 300) return r
      drainBody(r)
    } catch { /* the next replica */ }
  }
  return undefined
}

/**
 * Writes a DB's sync points (Swift's set_x_container_sync_points) on a connection of its own,
 * opened on first use: the broker API has no writer for them.
 */
export class SyncPoints {
  private db?: ReturnType<typeof openDbFile>
  constructor(private readonly path: string) {}

  /** Sets either point or both (undefined leaves one as it is). */
  set(p1: number | undefined, p2: number | undefined): void {
    this.db ??= openDbFile(this.path)
    if (p1 !== undefined && p2 !== undefined) {
      this.db.prepare('UPDATE container_info SET x_container_sync_point1 = ?, x_container_sync_point2 = ?').run(p1, p2)
    } else if (p1 !== undefined) {
      this.db.prepare('UPDATE container_info SET x_container_sync_point1 = ?').run(p1)
    } else if (p2 !== undefined) {
      this.db.prepare('UPDATE container_info SET x_container_sync_point2 = ?').run(p2)
    }
  }

  close(): void { this.db?.close() }
}

/** A Timestamp of a header value; undefined when absent or malformed. */
export function safeTimestamp(v: string | undefined): Timestamp | undefined {
  if (!v) return undefined
  try { return new Timestamp(v) } catch { return undefined }
}
