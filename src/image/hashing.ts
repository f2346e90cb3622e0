import { type Hash, createHash } from 'node:crypto'
import { Transform, type TransformCallback } from 'node:stream'

/** Image data exceeded the allowed size (Glance's ImageSizeLimitExceeded, a 413). */
export class SizeLimitExceeded extends Error {
  override readonly name = 'SizeLimitExceeded'
  constructor(readonly limit: number) { super(`The incoming image is too large: more than ${limit} bytes.`) }
}

/** The data did not match what the client said it sent (size or digest); nothing is kept. */
export class DataMismatch extends Error {
  override readonly name = 'DataMismatch'
}

/** What the client declared about the data: checked before the store makes it durable. */
export interface Expected {
  size?: number
  md5?: string
  sha256?: string
}

/** What a HashingStream saw once it finished. */
export interface Digests {
  size: number
  /** MD5 hex: Glance's `checksum` and the Content-MD5 of downloads. */
  md5: string
  /** SHA-512 hex: Glance's `os_hash_value` (os_hash_algo 'sha512'). */
  sha512: string
  /** SHA-256 hex, to check the `owner_specified.openstack.sha256` the SDK sends. */
  sha256: string
}

/**
 * A pass-through stream that hashes what flows through it (MD5, SHA-256 and SHA-512 in one
 * pass, as Glance computes checksum and os_hash_value while it writes) and fails once more than
 * `limit` bytes have passed, so an oversized upload stops early instead of filling the disk.
 * With `expected`, it fails at the end when the data differs from what the client declared;
 * the failure reaches the store before it commits, so bad data is never kept.
 */
export class HashingStream extends Transform {
  private readonly md5: Hash = createHash('md5')
  private readonly sha256: Hash = createHash('sha256')
  private readonly sha512: Hash = createHash('sha512')
  private bytes = 0
  private result: Digests | undefined

  constructor(private readonly limit = Number.MAX_SAFE_INTEGER, private readonly expected: Expected = {}) { super() }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length
    if (this.bytes > this.limit) return done(new SizeLimitExceeded(this.limit))
    this.md5.update(chunk); this.sha256.update(chunk); this.sha512.update(chunk)
    done(null, chunk)
  }

  override _flush(done: TransformCallback): void {
    const r: Digests = { size: this.bytes, md5: this.md5.digest('hex'), sha256: this.sha256.digest('hex'),
      sha512: this.sha512.digest('hex') }
    this.result = r
    const e = this.expected
    if (e.size !== undefined && e.size !== r.size) {
      return done(new DataMismatch(`Image data size ${r.size} does not match the declared size ${e.size}.`))
    }
    if (e.md5 !== undefined && e.md5.toLowerCase() !== r.md5) {
      return done(new DataMismatch(`Image data MD5 ${r.md5} does not match the declared checksum ${e.md5}.`))
    }
    if (e.sha256 !== undefined && e.sha256.toLowerCase() !== r.sha256) {
      return done(new DataMismatch(`Image data SHA-256 ${r.sha256} does not match the declared ${e.sha256}.`))
    }
    done()
  }

  /** The digests; only once the stream has ended. */
  get digests(): Digests {
    if (!this.result) throw new Error('HashingStream: digests read before the end of the data')
    return this.result
  }
}
