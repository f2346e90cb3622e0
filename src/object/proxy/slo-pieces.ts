// Which segment bytes make up byte ranges of an SLO (Swift's _segment_listing_iterator and
// _byterange_listing_iterator): segments wholly before or after a range are skipped, ranged
// segments are cut, and nested manifests are opened only when a range reaches into them — at
// most MAX_SLO_RECURSION_DEPTH deep, with the last few kept so several ranges into one
// sub-manifest fetch it once.
import { type Segment, type SloRow, MAX_SLO_RECURSION_DEPTH, annotate, splitSegmentName } from './slo-manifest.ts'
import { type SegmentPiece, SegmentError } from './slo-segments.ts'

/** Reads the stored rows of a nested manifest ("/<container>/<object>"); rejects when it can't. */
export type SubManifestFetch = (container: string, obj: string) => Promise<SloRow[]>

/** How many sub-manifests a GET keeps parsed (Swift: twice the recursion depth). */
const SUB_CACHE = 20

/** The pieces of `ranges` (inclusive byte offsets into the SLO), in order. */
export async function* sloPieces(segments: readonly Segment[], ranges: ReadonlyArray<readonly [number, number]>,
                                 fetchSub: SubManifestFetch, name: string): AsyncGenerator<SegmentPiece> {
  const cache = new Map<string, Promise<Segment[]>>()
  const sub = (path: string, c: string, o: string): Promise<Segment[]> => {
    const hit = cache.get(path)
    if (hit) { cache.delete(path); cache.set(path, hit); return hit }
    const p = fetchSub(c, o).then(annotate)
    cache.set(path, p)
    if (cache.size > SUB_CACHE) cache.delete(cache.keys().next().value!)
    return p
  }
  for (const [first, last] of ranges) yield* byteRange(segments, first, last, 1)

  async function* byteRange(segs: readonly Segment[], first: number, last: number, depth: number): AsyncGenerator<SegmentPiece> {
    for (const seg of segs) {
      const len = seg.length
      if (first >= len) { first -= len; last -= len; continue }
      if (last < 0) return
      if (seg.raw) {
        yield { data: seg.raw.subarray(Math.max(0, first), Math.min(len - 1, last) + 1) }
        first -= len
        last -= len
        continue
      }
      const row = seg.row
      let rs = 0
      let re = len - 1
      if (row.range) [rs, re] = row.range.split('-').map(Number) as [number, number]
      const where = splitSegmentName(row.name)
      if (!where) throw new SegmentError(`While processing manifest ${name}, bad segment name ${JSON.stringify(row.name)}`)
      if (row.sub_slo) {
        if (depth >= MAX_SLO_RECURSION_DEPTH) {
          throw new SegmentError(`While processing manifest ${name}, max recursion depth was exceeded`)
        }
        const inner = await sub(row.name!, where[0], where[1])
        yield* byteRange(inner, rs + Math.max(0, first), Math.min(re, rs + last), depth + 1)
      } else {
        yield { container: where[0], obj: where[1], first: Math.max(0, first) + rs, last: Math.min(re, rs + last),
          etag: row.hash, size: row.bytes === undefined ? undefined : Number(row.bytes) }
      }
      first -= len
      last -= len
    }
  }
}

/** Total size of a manifest's segments. */
export function totalLength(segments: readonly Segment[]): number {
  let n = 0
  for (const s of segments) n += s.length
  return n
}
