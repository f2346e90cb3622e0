// Streams a large object's body from its segments (Swift's SegmentedIterable), shared by SLO,
// DLO and the S3 layer's multipart objects: each piece is one GET of a segment object (a range
// of it when only part is needed), checked before a byte of it is passed on — the status, the
// ETag and size the manifest recorded — and counted, so a segment that changed or is short cuts
// the stream instead of serving other bytes. The next segment's GET is started while the
// current one streams, so segment boundaries cost no round trip.
import { Readable } from 'node:stream'
import { SwiftError } from './errors.ts'

/** A large object's segments no longer give its bytes (Swift's SegmentError and ListingIterError). */
export class SegmentError extends Error {
  override readonly name = 'SegmentError'
}

/** Bytes of one segment object (inclusive; `last` undefined: to its end), or inline data already cut to size. */
export type SegmentPiece =
  | { container: string; obj: string; first: number; last?: number; etag?: string; size?: number }
  | { data: Buffer }

/** A segment GET's answer. */
export interface SegmentAnswer { status: number; headers: Record<string, string>; body?: Buffer | Readable }

/** Reads a segment object as stored (never expanded as a large object), whole or a `range` ("bytes=a-b"). */
export type SegmentFetch = (container: string, obj: string, range: string | undefined) => Promise<SegmentAnswer>

/** Options of streamPieces. */
export interface StreamOptions {
  /** The large object's path, for errors. */
  name: string
  /** Exact bytes the whole stream must give (Swift's response_body_length). */
  expectedLength?: number
  /** Longest a whole GET may take (Swift's max_get_time). */
  maxGetTimeMs?: number
}

const unquote = (s: string | undefined) => (s ?? '').replace(/^"(.*)"$/, '$1')

/** Releases an answer that won't be read. */
export function dropAnswer(a: SegmentAnswer): void {
  if (a.body && !Buffer.isBuffer(a.body)) a.body.destroy()
}

interface Started { piece: SegmentPiece; answer?: SegmentAnswer; range?: string }

/**
 * The body of a large object: the pieces' bytes in order. Throws SegmentError (or a SwiftError
 * 503 when a segment's server failed) as soon as a piece is wrong; closing the generator early
 * releases the segment being read.
 */
export async function* streamPieces(pieces: AsyncIterable<SegmentPiece>, fetch: SegmentFetch, o: StreamOptions): AsyncGenerator<Buffer> {
  const started = Date.now()
  const it = pieces[Symbol.asyncIterator]()
  const begin = (piece: SegmentPiece): Promise<Started> => {
    if ('data' in piece) return Promise.resolve({ piece })
    const toEnd = piece.last === undefined || (piece.size !== undefined && piece.last === piece.size - 1)
    const range = piece.first !== 0 || !toEnd ? `bytes=${piece.first}-${toEnd ? '' : piece.last}` : undefined
    return fetch(piece.container, piece.obj, range).then((answer) => ({ piece, answer, range }))
  }
  // The next piece (and its GET) is prepared while the current one streams, so neither a
  // listing page, a rate-limit pause nor a segment's first byte holds the stream up.
  const advance = (): Promise<Started | null> => it.next().then((n) => (n.done ? null : begin(n.value)))
  let left = o.expectedLength
  let pending: Promise<Started | null> | undefined
  try {
    pending = advance()
    for (;;) {
      const cur = await pending
      pending = undefined
      if (!cur) break
      pending = advance()
      pending.catch(() => {}) // awaited on the next turn; failures surface there
      for await (const chunk of pieceBytes(cur, o.name)) {
        if (left !== undefined) {
          if (chunk.length > left) {
            yield chunk.subarray(0, left)
            throw new SegmentError(`Too many bytes for ${o.name}`)
          }
          left -= chunk.length
        }
        yield chunk
        if (o.maxGetTimeMs !== undefined && Date.now() - started > o.maxGetTimeMs) {
          throw new SegmentError(`While processing manifest ${o.name}, max LO GET time of ${o.maxGetTimeMs / 1000}s exceeded`)
        }
      }
    }
    if (left) throw new SegmentError(`Expected another ${left} bytes for ${o.name}; closing connection`)
  } finally {
    if (pending) pending.then((s) => { if (s?.answer) dropAnswer(s.answer) }, () => {})
    // Not awaited: a piece still being prepared (a rate-limit pause) must not hold the close up.
    it.return?.(undefined)?.catch(() => {})
  }
}

/** One piece's bytes, after checking its answer. */
async function* pieceBytes(s: Started, name: string): AsyncGenerator<Buffer> {
  const p = s.piece
  if ('data' in p) { if (p.data.length) yield p.data; return }
  const a = s.answer!
  const path = `/${p.container}/${p.obj}`
  if (a.status < 200 || a.status >= 300) {
    dropAnswer(a)
    if (a.status >= 500) throw SwiftError.text(503, `While processing manifest ${name}, got ${a.status} while retrieving ${path}`)
    throw new SegmentError(`While processing manifest ${name}, got ${a.status} while retrieving ${path}`)
  }
  const etag = unquote(a.headers.etag)
  const length = a.headers['content-length'] === undefined ? undefined : Number(a.headers['content-length'])
  if ((p.etag && etag !== p.etag) || (p.size !== undefined && s.range === undefined && length !== p.size)) {
    dropAnswer(a)
    throw new SegmentError(`Object segment no longer valid: ${path} etag: ${etag} != ${p.etag} or ${length} != ${p.size}.`)
  }
  // A ranged GET answered whole (the range covered an empty object, or was ignored) is cut here.
  let skip = s.range !== undefined && a.status === 200 ? p.first : 0
  let want = s.range !== undefined && a.status === 200 && p.last !== undefined ? p.last - p.first + 1 : Infinity
  const expect = s.range !== undefined && a.status === 200 ? undefined : length
  let got = 0
  const chunks: AsyncIterable<Buffer> = Buffer.isBuffer(a.body) ? [a.body] as unknown as AsyncIterable<Buffer>
    : (a.body ?? []) as AsyncIterable<Buffer>
  try {
    for await (let c of chunks) {
      got += c.length
      if (skip) {
        if (c.length <= skip) { skip -= c.length; continue }
        c = c.subarray(skip)
        skip = 0
      }
      if (c.length >= want) {
        if (want) yield c.subarray(0, want)
        want = 0
        break
      }
      want -= c.length
      yield c
    }
  } finally {
    if (a.body && !Buffer.isBuffer(a.body) && !a.body.readableEnded) a.body.destroy()
  }
  if (expect !== undefined && got !== expect) {
    throw new SegmentError(`Bad response length for ${path} as part of ${name}: headers had ${expect}, but response length was actually ${got}`)
  }
}

/** Options of Swift's RateLimitedIterator. */
export interface RateLimit {
  /** Pieces per second once limited. */
  perSecond: number
  /** Pieces (of those `when` selects) let through before limiting starts. */
  after: number
  /** Which pieces count; all by default. */
  when?: (p: SegmentPiece) => boolean
}

/** Paces pieces as Swift's RateLimitedIterator with ratelimit_sleep (a 5 s burst allowance). */
export async function* rateLimited(pieces: AsyncIterable<SegmentPiece>, r: RateLimit): AsyncGenerator<SegmentPiece> {
  let after = r.after
  let running = 0
  const per = 1000 / r.perSecond
  for await (const p of pieces) {
    if (r.perSecond > 0 && (!r.when || r.when(p))) {
      if (after > 0) after--
      else {
        const now = Date.now()
        if (now - running > 5000) running = now
        else if (running - now > per) await new Promise((res) => setTimeout(res, running - now))
        running += per
      }
    }
    yield p
  }
}

/**
 * Replays a body generator's first chunk: GETs answer only after it arrives, so a missing or
 * changed first segment is an error status (409) instead of a cut stream (Swift's
 * validate_first_segment).
 */
export async function primed(gen: AsyncGenerator<Buffer>): Promise<AsyncGenerator<Buffer>> {
  let first: IteratorResult<Buffer>
  try {
    first = await gen.next()
  } catch (err) {
    if (err instanceof SegmentError) throw SwiftError.status(409)
    throw err
  }
  async function* replay(): AsyncGenerator<Buffer> {
    try {
      if (first.done) return
      yield first.value
      for (;;) {
        const r = await gen.next()
        if (r.done) return
        yield r.value
      }
    } finally {
      await gen.return(undefined)
    }
  }
  return replay()
}

/** A byte stream of a body generator (destroying it closes the generator and its segment reads). */
export function bodyStream(gen: AsyncGenerator<Buffer>): Readable {
  return Readable.from(gen, { objectMode: false })
}
