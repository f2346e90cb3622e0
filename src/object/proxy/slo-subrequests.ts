// What the large-object middlewares (slo, dlo, copy) ask of the rest of the pipeline: segment
// and sub-manifest GETs as subrequests through `next` (so the caller's ACLs apply to every
// segment), and the backend hints and sysmeta handling around a client's own request.
import { extractSwiftBytes } from '../storage/container-rows.ts'
import { SwiftError } from './errors.ts'
import { KEEP_SYSMETA } from './object.ts'
import { type SwiftHandler, answerBytes, discardAnswer, subrequest } from './pipeline.ts'
import type { ClientAnswer, SwiftRequest } from './request.ts'
import { type SloRow, parseStoredManifest } from './slo-manifest.ts'
import { type SegmentAnswer, type SegmentFetch, SegmentError } from './slo-segments.ts'

const isSuccess = (s: number) => s >= 200 && s < 300

/** An answer for a SwiftError thrown by the handler (a subrequest's failure is data, not an exception). */
export async function answerOf(p: Promise<ClientAnswer>): Promise<ClientAnswer> {
  try {
    return await p
  } catch (err) {
    if (err instanceof SwiftError) return { status: err.status, headers: { ...err.headers, 'content-type': err.contentType }, body: err.body }
    throw err
  }
}

/** Segment GETs through `next`: always ?multipart-manifest=get, so a segment is read as stored. */
export function segmentFetcher(next: SwiftHandler, req: SwiftRequest, source: string): SegmentFetch {
  return (container, obj, range) => answerOf(next(subrequest(req, {
    method: 'GET', container, obj, query: { 'multipart-manifest': 'get' }, headers: range ? { range } : {}, source,
  }))) as Promise<SegmentAnswer>
}

/** Reads a nested manifest's rows through `next`; SegmentError when it can't be had. */
export function subManifestFetcher(next: SwiftHandler, req: SwiftRequest, name: string): (c: string, o: string) => Promise<SloRow[]> {
  return async (container, obj) => {
    const a = await answerOf(next(subrequest(req, { method: 'GET', container, obj, query: { 'multipart-manifest': 'get' }, source: 'SLO' })))
    if (!isSuccess(a.status)) {
      discardAnswer(a)
      throw new SegmentError(`while fetching ${name}, GET of submanifest /${container}/${obj} failed with status ${a.status}`)
    }
    try {
      return parseStoredManifest(await answerBytes(a))
    } catch {
      throw new SegmentError(`while fetching ${name}, JSON-decoding of submanifest /${container}/${obj} failed`)
    }
  }
}

/** A comma-separated backend header with one more name (Swift's csv_append). */
export function csvAppend(current: string | undefined, value: string): string {
  return current ? `${current},${value}` : value
}

const SYSMETA = /^x-object-(transient-)?sysmeta-/

/** The answer without object sysmeta (unless the request itself asked to keep it). */
export function withoutSysmeta(req: SwiftRequest, a: ClientAnswer): ClientAnswer {
  if (req.headers[KEEP_SYSMETA] !== undefined) return a
  let found = false
  for (const k in a.headers) if (SYSMETA.test(k)) { found = true; break }
  if (!found) return a
  const headers: Record<string, string> = {}
  for (const k in a.headers) if (!SYSMETA.test(k)) headers[k] = a.headers[k]
  return { ...a, headers }
}

/**
 * A manifest answer's headers for the client: no sysmeta (unless asked for), and a
 * Content-Type without the swift_bytes the manifest stores for its listing row.
 */
export function manifestHeaders(req: SwiftRequest, a: ClientAnswer): Record<string, string> {
  const headers = { ...withoutSysmeta(req, a).headers }
  const ct = headers['content-type']
  if (ct?.includes('swift_bytes')) headers['content-type'] = extractSwiftBytes(ct)[0]
  return headers
}

/**
 * The request as passed down by a middleware that reads object sysmeta in the answer: a copy
 * with KEEP_SYSMETA (and whatever `extra` backend hints) set. The controllers set `owner` on
 * the copy; the caller copies it back if it needs it.
 */
export function downstream(req: SwiftRequest, extra: Record<string, string> = {}): SwiftRequest {
  return { ...req, headers: { ...req.headers, [KEEP_SYSMETA]: 'true', ...extra } }
}
