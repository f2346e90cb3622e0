// Where the object benchmark sends its requests: a Swift storage URL with a token, or an S3
// endpoint with SigV4 keys. Both give the same operations (create the container/bucket, PUT,
// GET, DELETE an object, delete the container/bucket) as plain request descriptions, so the load
// loop does not care which API it drives.
import { UNSIGNED_PAYLOAD, sha256Hex } from '../../src/object/s3/sigv4-core.ts'
import { type ClientCredentials, signRequest } from '../../src/object/s3/sigv4-client.ts'

/** One HTTP request to make: method, path (with query), headers. */
export interface HttpCall { method: string; path: string; headers: Record<string, string> }

/** What the benchmark drives. */
export interface Target {
  readonly api: 'swift' | 's3'
  /** Base URL: host and port to connect to. */
  readonly url: URL
  /** The container (Swift) or bucket (S3) the run uses. */
  readonly bucket: string
  createBucket(): HttpCall
  deleteBucket(): HttpCall
  /** A PUT of `length` bytes; `body` (when small and known) lets S3 sign its payload. */
  put(name: string, length: number, body?: Buffer): HttpCall
  get(name: string): HttpCall
  del(name: string): HttpCall
}

/** Swift's quote(): everything but unreserved characters and '/'. */
const quote = (s: string) => encodeURIComponent(s).replace(/%2F/g, '/')

/** The Swift API at a storage URL (`http://host:port/v1/AUTH_<project>`) with a token. */
export function swiftTarget(storageUrl: string, token: string, bucket: string): Target {
  const url = new URL(storageUrl)
  const base = url.pathname.replace(/\/$/, '')
  const h = () => ({ 'x-auth-token': token })
  const obj = (name: string) => `${base}/${quote(bucket)}/${quote(name)}`
  return {
    api: 'swift', url, bucket,
    createBucket: () => ({ method: 'PUT', path: `${base}/${quote(bucket)}`, headers: { ...h(), 'content-length': '0' } }),
    deleteBucket: () => ({ method: 'DELETE', path: `${base}/${quote(bucket)}`, headers: h() }),
    put: (name, length) => ({ method: 'PUT', path: obj(name),
      headers: { ...h(), 'content-length': String(length), 'content-type': 'application/octet-stream' } }),
    get: (name) => ({ method: 'GET', path: obj(name), headers: h() }),
    del: (name) => ({ method: 'DELETE', path: obj(name), headers: h() }),
  }
}

/**
 * The S3 API (path-style) with SigV4 signatures. Small bodies are signed with their SHA-256
 * (what SDKs do over plain HTTP), large streams as UNSIGNED-PAYLOAD.
 */
export function s3Target(endpoint: string, creds: ClientCredentials, bucket: string): Target {
  const url = new URL(endpoint)
  const base = url.pathname.replace(/\/$/, '')
  const hashes = new WeakMap<Buffer, string>()
  const sign = (method: string, path: string, headers: Record<string, string> = {}, payloadHash?: string): HttpCall => {
    const signed = signRequest({ method, url: new URL(path, url), headers, payloadHash }, creds)
    return { method, path, headers: signed }
  }
  const obj = (name: string) => `${base}/${bucket}/${quote(name)}`
  return {
    api: 's3', url, bucket,
    createBucket: () => sign('PUT', `${base}/${bucket}`, { 'content-length': '0' }),
    deleteBucket: () => sign('DELETE', `${base}/${bucket}`),
    put: (name, length, body) => {
      let hash = UNSIGNED_PAYLOAD
      if (body) {
        hash = hashes.get(body) ?? sha256Hex(body)
        hashes.set(body, hash)
      }
      return sign('PUT', obj(name), { 'content-length': String(length), 'content-type': 'application/octet-stream' }, hash)
    },
    get: (name) => sign('GET', obj(name)),
    del: (name) => sign('DELETE', obj(name)),
  }
}
