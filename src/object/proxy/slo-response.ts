// The client's answer for a large object (SLO or DLO), as swob's conditional response makes it:
// If-Match / If-None-Match against the large object's ETag and the dates against the
// manifest's Last-Modified (304/412), HEAD without a body, Range as 206 with one range or
// multipart/byteranges with several, 416 when none can be served; and the body starts only
// once its first segment proved good (else 409).
import { randomBytes } from 'node:crypto'
import { conditionalStatus, parseRange, rangesForLength } from '../storage/object-read.ts'
import { parseHttpDate } from '../storage/storage-util.ts'
import type { ClientAnswer, SwiftRequest } from './request.ts'
import { bodyStream, primed } from './slo-segments.ts'

/** A large object ready to answer. */
export interface LargeObject {
  /** The manifest answer's client headers (metadata, Content-Type, Last-Modified, …) with the large object's ETag. */
  headers: Record<string, string>
  /** The ETag conditionals compare (unquoted); none when not known (a DLO too long to list at once). */
  etag?: string
  /** Size ranges are resolved against (and the Content-Length of a whole GET); undefined when unknown. */
  size?: number
  /** Whether a Range header is honoured (a DLO ignores it when the size isn't known). */
  ranges: boolean
  /** Streams bytes [first, last] (inclusive; last undefined: to the end). */
  open(first: number, last: number | undefined): AsyncGenerator<Buffer>
}

const RANGE_416 = Buffer.from('<html><h1>Requested Range Not Satisfiable</h1><p>The Range requested is not available.</p></html>')

/** The answer to a GET or HEAD of a large object (see the file comment). */
export async function largeObjectAnswer(req: SwiftRequest, lo: LargeObject): Promise<ClientAnswer> {
  const headers: Record<string, string> = { ...lo.headers, 'accept-ranges': 'bytes' }
  delete headers['content-range']
  delete headers['content-length']
  const cond = conditions(req, lo)
  if (cond !== null) return { status: cond, headers: { ...headers, 'content-length': '0' } }
  const sizeHeader: Record<string, string> = lo.size === undefined ? {} : { 'content-length': String(lo.size) }
  if (req.method === 'HEAD') return { status: 200, headers: { ...headers, ...sizeHeader } }
  const specs = lo.ranges && lo.size !== undefined ? parseRange(req.headers.range) : null
  if (specs && specs.length && lo.size !== undefined) {
    const size = lo.size
    const ranges = rangesForLength(specs, size)
    if (!ranges.length) {
      return { status: 416, headers: { ...headers, 'content-range': `bytes */${size}`, 'content-type': 'text/html; charset=UTF-8' }, body: RANGE_416 }
    }
    if (size > 0 && ranges.length === 1) {
      const [s, e] = ranges[0]!
      const body = await primed(lo.open(s, e - 1))
      return { status: 206, headers: { ...headers, 'content-range': `bytes ${s}-${e - 1}/${size}`, 'content-length': String(e - s) },
        body: bodyStream(body) }
    }
    if (size > 0) return multipart(headers, lo, ranges, size)
  }
  if (lo.size === 0) return { status: 200, headers: { ...headers, 'content-length': '0' }, body: Buffer.alloc(0) }
  return { status: 200, headers: { ...headers, ...sizeHeader }, body: bodyStream(await primed(lo.open(0, lo.size === undefined ? undefined : lo.size - 1))) }
}

/** swob's conditional status (dates only when the manifest has a Last-Modified). */
function conditions(req: SwiftRequest, lo: LargeObject): 304 | 412 | null {
  const lastModified = parseHttpDate(lo.headers['last-modified'])
  const h = req.headers
  const asked = lastModified === null ? { 'if-match': h['if-match'], 'if-none-match': h['if-none-match'] } : h
  return conditionalStatus(asked as Record<string, string>, lo.etag ?? '', lastModified ?? 0)
}

/** A multipart/byteranges answer (swob's multi_range_iterator framing). */
async function multipart(headers: Record<string, string>, lo: LargeObject, ranges: [number, number][], size: number): Promise<ClientAnswer> {
  const boundary = randomBytes(16).toString('hex')
  const ctype = headers['content-type'] ?? 'application/octet-stream'
  const heads = ranges.map(([s, e]) => Buffer.from(`--${boundary}\r\nContent-Type: ${ctype}\r\nContent-Range: bytes ${s}-${e - 1}/${size}\r\n\r\n`))
  const crlf = Buffer.from('\r\n')
  const tail = Buffer.from(`--${boundary}--`)
  let length = tail.length
  ranges.forEach(([s, e], i) => { length += heads[i]!.length + (e - s) + 2 })
  const firstPart = await primed(lo.open(ranges[0]![0], ranges[0]![1] - 1))
  async function* parts(): AsyncGenerator<Buffer> {
    try {
      for (let i = 0; i < ranges.length; i++) {
        yield heads[i]!
        yield* i === 0 ? firstPart : lo.open(ranges[i]![0], ranges[i]![1] - 1)
        yield crlf
      }
      yield tail
    } finally {
      await firstPart.return(undefined) // releases its segment if the client left before it
    }
  }
  return {
    status: 206,
    headers: { ...headers, 'content-type': `multipart/byteranges;boundary=${boundary}`, 'content-length': String(length) },
    body: bodyStream(parts()),
  }
}
