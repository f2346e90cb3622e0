// The aws-chunked body encoding (Content-Encoding: aws-chunked), decoded while it streams:
//
//   <hex size>;chunk-signature=<sig>\r\n<data>\r\n ... 0;chunk-signature=<sig>\r\n[trailers]\r\n
//
// With STREAMING-AWS4-HMAC-SHA256-PAYLOAD every chunk carries a signature chained from the
// request's (the seed); it is checked when the chunk's data has passed, and a bad one errors the
// stream, so the storage side, which only stores a body that ends cleanly, stores nothing. Data
// flows on without being held back (the chunk is never buffered). The -TRAILER modes add
// trailing headers (checksums), signed with x-amz-trailer-signature in the signed mode.
import { createHash, type Hash, timingSafeEqual } from 'node:crypto'
import { Transform, type TransformCallback } from 'node:stream'
import { s3err } from './errors.ts'
import type { ChunkSigning } from './sigv4.ts'
import { EMPTY_SHA256, chunkStringToSign, hmac, sha256Hex, trailerStringToSign } from './sigv4-core.ts'

/** Options of AwsChunkedDecoder. */
export interface AwsChunkedOptions {
  /** Present when chunks are signed (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]). */
  signing?: ChunkSigning
  /** Trailing headers follow the last chunk (the -TRAILER modes). */
  trailer: boolean
  /** x-amz-decoded-content-length: the decoded body must be exactly this long. */
  decodedLength: number
}

const MAX_LINE = 4096
const badSignature = () => s3err('SignatureDoesNotMatch',
  'The request signature we calculated does not match the signature you provided. Check your key and signing method.')
const malformed = (why: string) => s3err('IncompleteBody', `The aws-chunked body is malformed: ${why}.`)

type State = 'header' | 'data' | 'data-end' | 'trailer' | 'done'

/** Decodes (and verifies) an aws-chunked body; `trailers` holds the trailing headers once it ends. */
export class AwsChunkedDecoder extends Transform {
  /** Trailing headers (lower-case names), filled when the body has been read. */
  readonly trailers = new Map<string, string>()
  private state: State = 'header'
  private line: Buffer = Buffer.alloc(0)
  private remaining = 0
  private declaredSig = ''
  private prevSig: string
  private hash: Hash | undefined
  private decoded = 0
  private trailerCanon = ''

  constructor(private readonly o: AwsChunkedOptions) {
    super()
    this.prevSig = o.signing?.seedSignature ?? ''
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.consume(chunk)
      cb()
    } catch (e) {
      cb(e as Error)
    }
  }

  override _flush(cb: TransformCallback): void {
    cb(this.state === 'done' ? null : malformed('it ended before its last chunk'))
  }

  private consume(buf: Buffer): void {
    let i = 0
    while (i < buf.length) {
      switch (this.state) {
        case 'header':
        case 'trailer':
        case 'data-end': {
          const nl = buf.indexOf(0x0a, i)
          const end = nl < 0 ? buf.length : nl + 1
          this.line = this.line.length ? Buffer.concat([this.line, buf.subarray(i, end)]) : buf.subarray(i, end)
          i = end
          if (this.line.length > MAX_LINE) throw malformed('a line is too long')
          if (nl < 0) break
          const text = this.line.toString('latin1')
          this.line = Buffer.alloc(0)
          if (!text.endsWith('\r\n')) throw malformed('a line does not end with CRLF')
          this.onLine(text.slice(0, -2))
          break
        }
        case 'data': {
          const n = Math.min(this.remaining, buf.length - i)
          const part = buf.subarray(i, i + n)
          this.hash?.update(part)
          this.push(part)
          this.remaining -= n
          i += n
          if (this.remaining === 0) {
            this.endChunk()
            this.state = 'data-end'
          }
          break
        }
        case 'done':
          throw malformed('data follows the last chunk')
      }
    }
  }

  private onLine(line: string): void {
    if (this.state === 'data-end') {
      if (line !== '') throw malformed('chunk data is longer than its size')
      this.state = 'header'
    } else if (this.state === 'header') {
      this.onChunkHeader(line)
    } else {
      this.onTrailerLine(line)
    }
  }

  private onChunkHeader(line: string): void {
    const semi = line.indexOf(';')
    const sizeHex = (semi < 0 ? line : line.slice(0, semi)).trim()
    if (!/^[0-9a-fA-F]{1,16}$/.test(sizeHex)) throw malformed('bad chunk size')
    const size = parseInt(sizeHex, 16)
    if (this.o.signing) {
      const m = /;\s*chunk-signature=([0-9a-f]{64})\s*$/.exec(line)
      if (!m) throw badSignature()
      this.declaredSig = m[1]!
    }
    if (this.decoded + size > this.o.decodedLength) {
      throw s3err('IncompleteBody', 'The decoded body is longer than x-amz-decoded-content-length.')
    }
    this.decoded += size
    if (size > 0) {
      this.remaining = size
      if (this.o.signing) this.hash = createHash('sha256')
      this.state = 'data'
      return
    }
    // The last chunk: its (empty) data is signed too.
    if (this.o.signing) this.verify(EMPTY_SHA256)
    if (this.decoded !== this.o.decodedLength) {
      throw s3err('IncompleteBody', 'You did not provide the number of bytes specified by x-amz-decoded-content-length.')
    }
    this.state = 'trailer'
  }

  private endChunk(): void {
    if (this.o.signing) this.verify(this.hash!.digest('hex'))
    this.hash = undefined
  }

  private verify(dataSha256: string): void {
    const s = this.o.signing!
    const expected = hmac(s.signingKey, chunkStringToSign(s.amzDate, s.scope, this.prevSig, dataSha256))
    const given = Buffer.from(this.declaredSig, 'hex')
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw badSignature()
    this.prevSig = this.declaredSig
  }

  private onTrailerLine(line: string): void {
    if (line === '') {
      // Without trailers the body ends "0;chunk-signature=...\r\n\r\n": this is that last CRLF.
      if (this.o.trailer && this.o.signing && !this.trailers.has('x-amz-trailer-signature')) {
        throw s3err('SignatureDoesNotMatch', 'The trailing headers of the request are not signed.')
      }
      this.state = 'done'
      return
    }
    if (!this.o.trailer) throw malformed('trailing headers were not announced')
    const colon = line.indexOf(':')
    if (colon <= 0) throw malformed('bad trailing header')
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    if (name === 'x-amz-trailer-signature' && this.o.signing) {
      const s = this.o.signing
      const expected = hmac(s.signingKey, trailerStringToSign(s.amzDate, s.scope, this.prevSig, sha256Hex(this.trailerCanon)))
      const given = Buffer.from(value, 'hex')
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw badSignature()
    } else {
      this.trailerCanon += `${name}:${value}\n`
    }
    this.trailers.set(name, value)
  }
}

