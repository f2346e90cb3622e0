// Test support: the S3 handler on a real local HTTP server (127.0.0.1, a free port) over the
// in-memory storage, and a small client that signs its requests with the SigV4 signer. Used by
// the handler tests here and usable by the proxy's tests against another S3Storage.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { FakeS3Storage } from './fake-storage.ts'
import { createS3Handler } from './handler.ts'
import type { S3HandlerOptions } from './context.ts'
import type { S3Storage } from './port.ts'
import { presignUrl, signChunkedUpload, signRequest, type ClientCredentials } from './sigv4-client.ts'
import type { S3Credential } from './sigv4.ts'
import { UNSIGNED_PAYLOAD } from './sigv4-core.ts'

/** Two projects' keys, for owner/other-account tests. */
export const ALICE = { accessKey: 'AKIAALICE', secret: 'alice-secret', projectId: 'p-alice', userId: 'u-alice' }
export const BOB = { accessKey: 'AKIABOB', secret: 'bob-secret', projectId: 'p-bob', userId: 'u-bob' }

/** A running test server. */
export interface S3TestServer {
  url: string
  storage: S3Storage
  /** What the handler logged as unexpected (500s): tests expect none. */
  errors: unknown[]
  /** A client signing as `who` (default ALICE); `undefined` credentials → anonymous. */
  client(who?: { accessKey: string; secret: string } | null): S3TestClient
  close(): Promise<void>
}

/** Starts the handler on 127.0.0.1:0 with FakeS3Storage (unless `storage` is given) and ALICE and BOB as credentials. */
export async function startS3TestServer(o: Partial<S3HandlerOptions> = {}): Promise<S3TestServer> {
  const storage = o.storage ?? new FakeS3Storage()
  const keys = new Map<string, S3Credential>([ALICE, BOB].map((k) => [k.accessKey, { secret: k.secret, projectId: k.projectId, userId: k.userId }]))
  const errors: unknown[] = []
  const handler = createS3Handler({
    credentials: async (ak) => keys.get(ak), region: 'RegionOne',
    logger: { error: (obj) => { errors.push(obj) } }, ...o, storage,
  })
  const server = http.createServer((req, res) => { void handler(req, res) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url, storage, errors,
    client: (who = ALICE) => new S3TestClient(url, who ? { ...who, region: 'RegionOne' } : undefined),
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
}

/** A response, fully read. */
export interface S3TestResponse { status: number; headers: http.IncomingHttpHeaders; body: Buffer; text: string }

/** Options of one request. */
export interface RequestOptions {
  headers?: Record<string, string>
  body?: Buffer | string
  /** How the body is signed: its sha256 (default), UNSIGNED-PAYLOAD, or aws-chunked with signed chunks. */
  payload?: 'sha256' | 'unsigned' | 'chunked'
  chunkSize?: number
  /** Overrides the signing time (skew tests). */
  date?: Date
}

/** Sends requests signed with SigV4 (or anonymous). `path` includes the query (e.g. '/b?acl'). */
export class S3TestClient {
  constructor(readonly base: string, readonly creds: ClientCredentials | undefined) {}

  async request(method: string, path: string, o: RequestOptions = {}): Promise<S3TestResponse> {
    const url = `${this.base}${path}`
    let body: Buffer | undefined = o.body === undefined ? undefined : Buffer.from(o.body)
    let headers: Record<string, string> = { ...o.headers }
    if (this.creds) {
      if (o.payload === 'chunked') {
        const signed = signChunkedUpload({ method, url, headers, body: body ?? Buffer.alloc(0), chunkSize: o.chunkSize ?? 64 * 1024,
          ...(o.date ? { date: o.date } : {}) }, this.creds)
        headers = signed.headers
        body = signed.body
      } else {
        headers = signRequest({ method, url, headers, ...(body ? { body } : {}),
          ...(o.payload === 'unsigned' ? { payloadHash: UNSIGNED_PAYLOAD } : {}), ...(o.date ? { date: o.date } : {}) }, this.creds)
      }
    }
    if (body && headers['content-length'] === undefined) headers['content-length'] = String(body.length)
    return send(method, url, headers, body)
  }

  /** A presigned URL for `path` (relative to the server). */
  presign(method: string, path: string, expires = 300, date?: Date): string {
    if (!this.creds) throw new Error('anonymous clients cannot presign')
    return presignUrl({ method, url: `${this.base}${path}`, expires, ...(date ? { date } : {}) }, this.creds)
  }
}

/** One raw HTTP request (no signing). */
export function send(method: string, url: string, headers: Record<string, string>, body?: Buffer): Promise<S3TestResponse> {
  return new Promise((resolve, reject) => {
    const u = new URL(url)
    const req = http.request({ method, host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const b = Buffer.concat(chunks)
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b, text: b.toString('utf8') })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** The text of the first `<tag>` in an XML document (for assertions). */
export function xmlText(xml: string, tag: string): string | undefined {
  const m = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml)
  return m?.[1]
}

/** The texts of every `<tag>` in an XML document. */
export function xmlTexts(xml: string, tag: string): string[] {
  return [...xml.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g'))].map((m) => m[1]!)
}
