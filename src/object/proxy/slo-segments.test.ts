// Unit tests of the segment streamer and the SLO piece planner, on fake segment reads.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { describe, it } from 'node:test'
import { SwiftError } from './errors.ts'
import { annotate, parseManifestInput, rawManifest, sloEtag } from './slo-manifest.ts'
import { sloPieces } from './slo-pieces.ts'
import { type SegmentAnswer, type SegmentFetch, type SegmentPiece, SegmentError, primed, rateLimited, streamPieces } from './slo-segments.ts'

const md5 = (b: string) => createHash('md5').update(b).digest('hex')
const OBJECTS: Record<string, string> = { a: 'AAAA', b: 'BBBBBB', c: 'CC' }

/** Serves OBJECTS like an object server (206 for ranges), counting requests. */
function fakeFetch(log: string[] = [], override: Record<string, Partial<SegmentAnswer>> = {}): SegmentFetch {
  return async (_c, obj, range) => {
    log.push(`${obj}${range ? ' ' + range : ''}`)
    const body = OBJECTS[obj]
    if (body === undefined) return { status: 404, headers: {} }
    let status = 200
    let out = body
    const m = range ? /bytes=(\d+)-(\d*)/.exec(range) : null
    if (m) { status = 206; out = body.slice(Number(m[1]), m[2] ? Number(m[2]) + 1 : undefined) }
    return { status, headers: { etag: md5(body), 'content-length': String(out.length) }, body: Readable.from([Buffer.from(out)]), ...override[obj] }
  }
}

async function* list(p: SegmentPiece[]): AsyncGenerator<SegmentPiece> { yield* p }
async function text(g: AsyncGenerator<Buffer>): Promise<string> {
  let s = ''
  for await (const c of g) s += c.toString()
  return s
}

describe('streamPieces', () => {
  it('reads whole and ranged segments and inline data, checking ETags', async () => {
    const log: string[] = []
    const g = streamPieces(list([
      { container: 's', obj: 'a', first: 0, last: 3, etag: md5('AAAA'), size: 4 },
      { data: Buffer.from('--') },
      { container: 's', obj: 'b', first: 1, last: 2, etag: md5('BBBBBB'), size: 6 },
      { container: 's', obj: 'c', first: 1 },
    ]), fakeFetch(log), { name: 'm', expectedLength: 9 })
    assert.equal(await text(g), 'AAAA--BBC')
    assert.deepEqual(log, ['a', 'b bytes=1-2', 'c bytes=1-'])
  })

  it('fails on a changed ETag, a wrong size, a short body, a missing segment, and 503 for server errors', async () => {
    const piece = (obj: string, extra: Partial<SegmentPiece> = {}) => list([{ container: 's', obj, first: 0, ...extra } as SegmentPiece])
    await assert.rejects(text(streamPieces(piece('a', { etag: 'other' }), fakeFetch(), { name: 'm' })), SegmentError)
    await assert.rejects(text(streamPieces(piece('a', { size: 5, last: 4 }), fakeFetch(), { name: 'm' })), SegmentError)
    await assert.rejects(text(streamPieces(piece('a'), fakeFetch([], { a: { headers: { 'content-length': '9' } } }), { name: 'm' })), /Bad response length/)
    await assert.rejects(text(streamPieces(piece('nope'), fakeFetch(), { name: 'm' })), /got 404/)
    await assert.rejects(text(streamPieces(piece('a'), fakeFetch([], { a: { status: 507 } }), { name: 'm' })),
      (e: unknown) => e instanceof SwiftError && e.status === 503)
    await assert.rejects(text(streamPieces(piece('a'), fakeFetch(), { name: 'm', expectedLength: 3 })), /Too many bytes/)
    await assert.rejects(text(streamPieces(piece('a'), fakeFetch(), { name: 'm', expectedLength: 5 })), /Expected another 1 bytes/)
  })

  it('primed() turns a bad first segment into a 409 before any byte', async () => {
    await assert.rejects(primed(streamPieces(list([{ container: 's', obj: 'nope', first: 0 }]), fakeFetch(), { name: 'm' })),
      (e: unknown) => e instanceof SwiftError && e.status === 409)
    const g = await primed(streamPieces(list([{ container: 's', obj: 'a', first: 0 }]), fakeFetch(), { name: 'm' }))
    assert.equal(await text(g), 'AAAA')
  })

  it('paces pieces after the first ones, as Swift\'s RateLimitedIterator', async () => {
    const pieces = Array.from({ length: 5 }, () => ({ data: Buffer.from('x') }))
    const t0 = Date.now()
    for await (const _ of rateLimited(list(pieces), { perSecond: 20, after: 2 })) { /* drain */ }
    const took = Date.now() - t0
    assert.ok(took >= 40 && took < 1000, `took ${took} ms`)
  })
})

describe('SLO manifests', () => {
  it('plans ranges over nested manifests, fetching each sub-manifest once', async () => {
    const inner = [{ name: '/s/a', bytes: 4, hash: md5('AAAA') }, { name: '/s/b', bytes: 6, hash: md5('BBBBBB') }]
    const outer = annotate([{ name: '/s/c', bytes: 2, hash: md5('CC') }, { name: '/x/sub', bytes: 10, hash: 'e', sub_slo: true, range: '3-6' }])
    const fetched: string[] = []
    const fetchSub = async (c: string, o: string) => { fetched.push(`${c}/${o}`); return inner }
    const out: unknown[] = []
    for await (const p of sloPieces(outer, [[1, 3], [4, 5]], fetchSub, 'm')) out.push(p)
    assert.deepEqual(out, [
      { container: 's', obj: 'c', first: 1, last: 1, etag: md5('CC'), size: 2 },
      { container: 's', obj: 'a', first: 3, last: 3, etag: md5('AAAA'), size: 4 },
      { container: 's', obj: 'b', first: 0, last: 0, etag: md5('BBBBBB'), size: 6 },
      { container: 's', obj: 'b', first: 1, last: 2, etag: md5('BBBBBB'), size: 6 },
    ])
    assert.deepEqual(fetched, ['x/sub'])
  })

  it('stops at Swift\'s recursion depth', async () => {
    const self = [{ name: '/x/loop', bytes: 1, hash: 'e', sub_slo: true }]
    const pieces = sloPieces(annotate(self), [[0, 0]], async () => self, 'm')
    await assert.rejects(async () => { for await (const _ of pieces) { /* drain */ } }, /max recursion depth/)
  })

  it('computes the SLO ETag and the raw form as Swift', () => {
    const rows = [{ name: '/c/a', bytes: 4, hash: 'h1' }, { name: '/c/b', bytes: 6, hash: 'h2', range: '1-2' }, { data: 'eHk=' }]
    assert.equal(sloEtag(rows), md5(`h1h2:1-2;${md5('xy')}`))
    assert.equal(rawManifest(rows).toString(),
      '[{"etag": "h1", "path": "/c/a", "size_bytes": 4}, {"etag": "h2", "path": "/c/b", "range": "1-2", "size_bytes": 6}, {"data": "eHk="}]')
    assert.deepEqual(parseManifestInput(Buffer.from('[{"path": "c/a", "size_bytes": "4"}, {"data": "eHk"}]'), 'c/m'),
      [{ path: 'c/a', etag: undefined, sizeBytes: 4, range: undefined }, { data: 'eHk=' }])
  })
})
