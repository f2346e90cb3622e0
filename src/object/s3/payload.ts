// The request body as the storage port receives it: decoded (aws-chunked) and verified while it
// streams (x-amz-content-sha256, x-amz-checksum-*, decoded length). Each check errors the stream
// at the point it fails, at the latest before its end, so the port, which stores only a body
// that ends cleanly, stores nothing. With nothing to check, the request itself is handed on:
// the common UNSIGNED-PAYLOAD / no-checksum upload costs no extra copy or hash.
import { createHash, type Hash } from 'node:crypto'
import type { Readable } from 'node:stream'
import { Transform, type TransformCallback } from 'node:stream'
import { AwsChunkedDecoder } from './aws-chunked.ts'
import { algorithmOf, checksummer, type ChecksumAlgorithm, type Checksummer } from './checksum.ts'
import { s3err } from './errors.ts'
import type { PayloadMode } from './sigv4.ts'

/** A body ready for the port. */
export interface PreparedBody {
  body: Readable
  /** The decoded length (what will be stored). */
  length: number
  /** After the body ended: the verified additional checksum, to echo as a response header. */
  checksum(): { header: string; value: string } | undefined
}

/** Options of prepareBody. */
export interface PrepareOptions {
  /** Largest body accepted (S3: 5 GiB for a PUT or a part). */
  maxLength: number
  /** Reject before reading when the length is unknown (S3 always wants one for uploads). */
  requireLength: boolean
}

const header = (h: Record<string, string | string[] | undefined>, name: string): string | undefined => {
  const v = h[name]
  return Array.isArray(v) ? v[0] : v
}

/** Wraps the request body in the decoders and verifiers the request's headers call for. */
export function prepareBody(req: Readable & { headers: Record<string, string | string[] | undefined> },
                            payload: PayloadMode, o: PrepareOptions): PreparedBody {
  const h = req.headers
  const streaming = payload.kind === 'streaming'
  const lengthHeader = streaming ? header(h, 'x-amz-decoded-content-length') : header(h, 'content-length')
  if (lengthHeader === undefined || !/^\d+$/.test(lengthHeader)) {
    if (o.requireLength || streaming) throw s3err('MissingContentLength', 'You must provide the Content-Length HTTP header.')
  }
  const length = lengthHeader === undefined ? 0 : Number(lengthHeader)
  if (length > o.maxLength) {
    throw s3err('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', { MaxSizeAllowed: String(o.maxLength) })
  }

  // The additional checksum: a header value now, or a trailer announced by x-amz-trailer.
  let checksumName = Object.keys(h).find((k) => k.startsWith('x-amz-checksum-') &&
    k !== 'x-amz-checksum-algorithm' && k !== 'x-amz-checksum-type' && k !== 'x-amz-checksum-mode')
  const trailerName = header(h, 'x-amz-trailer')?.trim().toLowerCase()
  if (trailerName !== undefined) {
    if (!streaming || !payload.trailer) throw s3err('InvalidRequest', 'x-amz-trailer needs an aws-chunked body with trailers')
    if (!trailerName.startsWith('x-amz-checksum-')) throw s3err('InvalidRequest', `Unsupported trailer ${trailerName}`)
    checksumName = trailerName
  }
  const alg = checksumName ? algorithmOf(checksumName) : undefined

  let body: Readable = req
  let decoder: AwsChunkedDecoder | undefined
  if (payload.kind === 'streaming') {
    decoder = new AwsChunkedDecoder({ trailer: payload.trailer, decodedLength: length,
      ...(payload.signing ? { signing: payload.signing } : {}) })
    body = chain(body, decoder)
  }
  let verifier: BodyVerifier | undefined
  const sha256 = payload.kind === 'sha256' ? payload.hex : undefined
  if (sha256 !== undefined || alg) {
    const expected = trailerName ? () => decoder!.trailers.get(trailerName) : () => header(h, checksumName!)
    verifier = new BodyVerifier(sha256, alg && checksumName ? { alg, name: checksumName, expected } : undefined)
    body = chain(body, verifier)
  }
  return {
    body, length,
    checksum: () => (verifier?.checksumValue && checksumName ? { header: checksumName, value: verifier.checksumValue } : undefined),
  }
}

/**
 * Pipes `src` into `t`, carrying src's errors (client gone, bad encoding) into `t`. A body may
 * be abandoned unread (the request was refused before storage took it), so `t` gets a listener
 * of its own: an error nobody listens to would otherwise bring the process down. Readers still
 * see the error (async iteration and pipe watch for it themselves).
 */
function chain(src: Readable, t: Transform): Readable {
  t.on('error', () => {})
  src.on('error', (e) => t.destroy(e))
  src.once('aborted', () => t.destroy(s3err('IncompleteBody', 'The request body was cut short.')))
  return src.pipe(t)
}

/** Checks the decoded body against x-amz-content-sha256 and an x-amz-checksum-* value at its end. */
class BodyVerifier extends Transform {
  checksumValue: string | undefined
  private readonly sha: Hash | undefined
  private readonly sum: Checksummer | undefined

  constructor(private readonly sha256: string | undefined,
              private readonly check?: { alg: ChecksumAlgorithm; name: string; expected: () => string | undefined }) {
    super()
    this.sha = sha256 === undefined ? undefined : createHash('sha256')
    this.sum = check ? checksummer(check.alg) : undefined
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.sha?.update(chunk)
    this.sum?.update(chunk)
    cb(null, chunk)
  }

  override _flush(cb: TransformCallback): void {
    if (this.sha && this.sha.digest('hex') !== this.sha256) {
      cb(s3err('XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed."))
      return
    }
    if (this.sum && this.check) {
      const got = this.sum.digest()
      const want = this.check.expected()
      if (want === undefined) {
        cb(s3err('InvalidRequest', `The trailing header ${this.check.name} announced by x-amz-trailer is missing.`))
        return
      }
      if (got !== want) {
        cb(s3err('BadDigest', `The ${this.check.alg.toUpperCase()} you specified did not match the calculated checksum.`))
        return
      }
      this.checksumValue = got
    }
    cb()
  }
}

/** Reads a small body (an XML document) into a string, refusing more than `max` bytes. */
export async function readSmallBody(body: Readable, max: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let n = 0
  for await (const c of body as AsyncIterable<Buffer>) {
    n += c.length
    if (n > max) {
      // The rest is left unread; the handler closes the connection after its answer.
      throw s3err('MaxMessageLengthExceeded', 'Your request was too big.')
    }
    chunks.push(c)
  }
  return Buffer.concat(chunks)
}
