// DELETE ?multipart-manifest=delete (Swift's handle_multipart_delete): the manifest's segments,
// those of nested manifests, and the manifests themselves, deleted through the pipeline as
// Swift's bulk delete does it — always a 200 whose body tells Number Deleted, Number Not Found,
// the Response Status and the Errors, in text, JSON or XML as Accept asks, with whitespace
// heartbeats while it runs long. (?async=yes is Swift's allow_async_delete, off here: /info
// says so, and such a DELETE is done synchronously, as Swift does with the option off.)
import { isTrue } from '../storage/storage-util.ts'
import { type SwiftHandler, answerBytes, discardAnswer, subrequest } from './pipeline.ts'
import type { ClientAnswer, SwiftRequest } from './request.ts'
import { heartbeatBody, resultBody, resultFormat, statusLine } from './slo-format.ts'
import { type SloRow, parseStoredManifest, pyQuote, splitSegmentName } from './slo-manifest.ts'
import { answerOf } from './slo-subrequests.ts'

/** Settings of multipart deletes. */
export interface SloDeleteOptions {
  maxManifestSegments: number
  yieldFrequency: number
  /** Segment DELETEs in flight at once (Swift's delete_concurrency). */
  concurrency: number
}

/** Bulk delete's max_failed_deletes. */
const MAX_FAILED_DELETES = 1000

/** A name to delete, or a failure to report in its place. */
interface Item { name: string; subSlo?: boolean; error?: { code: number; message: string } }

class DeleteError extends Error {
  constructor(readonly code: number, message: string) { super(message) }
}

/** Handles DELETE ?multipart-manifest=delete. */
export async function sloDelete(next: SwiftHandler, req: SwiftRequest, o: SloDeleteOptions): Promise<ClientAnswer> {
  const format = resultFormat(req.headers.accept, null)
  const work = run(next, req, o, format)
  const body = await heartbeatBody(work, { everySeconds: o.yieldFrequency,
    firstBeat: format?.endsWith('/xml') ? Buffer.from('<?xml version="1.0" encoding="UTF-8"?>\n') : undefined })
  return { status: 200, headers: { 'content-type': format ?? 'text/html; charset=UTF-8' }, body }
}

async function run(next: SwiftHandler, req: SwiftRequest, o: SloDeleteOptions, format: ReturnType<typeof resultFormat>): Promise<Buffer> {
  const result: Record<string, string | number> = {
    'Response Status': statusLine(200), 'Response Body': '', 'Number Deleted': 0, 'Number Not Found': 0,
  }
  const failed: Array<[string, string]> = []
  let failedStatus = 400
  try {
    if (!format) throw new DeleteError(406, '')
    const items = segmentsToDelete(next, req, o.maxManifestSegments)
    let stop = false
    const worker = async () => {
      while (!stop) {
        const n = await items.next()
        if (n.done) return
        const it = n.value
        if (it.error) {
          if (it.error.code === 404) (result['Number Not Found'] as number)++
          else failed.push([pyQuote(it.name), it.error.message])
        } else {
          const where = splitSegmentName(it.name)
          if (!where) continue
          const a = await answerOf(next(subrequest(req, { method: 'DELETE', container: where[0], obj: where[1], source: 'SLO' })))
          discardAnswer(a)
          if (a.status >= 200 && a.status < 300) (result['Number Deleted'] as number)++
          else if (a.status === 404) (result['Number Not Found'] as number)++
          else {
            if (a.status >= 500) failedStatus = 502
            failed.push([pyQuote(it.name), statusLine(a.status)])
          }
        }
        if (failed.length >= MAX_FAILED_DELETES) stop = true
      }
    }
    await Promise.all(Array.from({ length: Math.max(1, o.concurrency) }, worker))
    if (stop) throw new DeleteError(400, 'Max delete failures exceeded')
    if (failed.length) result['Response Status'] = statusLine(failedStatus)
    else if (!result['Number Deleted'] && !result['Number Not Found']) {
      result['Response Status'] = statusLine(400)
      result['Response Body'] = 'Invalid bulk delete.'
    }
  } catch (err) {
    if (!(err instanceof DeleteError)) throw err
    result['Response Status'] = statusLine(err.code)
    result['Response Body'] = err.message
  }
  return resultBody(format, result, failed, 'delete')
}

/** The names to delete, manifests after their segments (Swift's get_segments_to_delete_iter). */
async function* segmentsToDelete(next: SwiftHandler, req: SwiftRequest, maxSegments: number): AsyncGenerator<Item> {
  const queue: Item[] = [{ name: `/${req.container}/${req.obj}`, subSlo: true }]
  while (queue.length) {
    // Bounded: a tree of manifests can't make this list grow without limit.
    if (queue.length > maxSegments * 10) throw new DeleteError(400, 'Too many buffered slo segments to delete.')
    const item = queue.shift()!
    if (item.subSlo) {
      try {
        for (const row of await manifestRows(next, req, item.name)) {
          if (row.data === undefined && row.name) queue.push({ name: row.name, subSlo: isTrue(String(row.sub_slo ?? '')) })
        }
      } catch (err) {
        if (!(err instanceof DeleteError)) throw err
        item.error = { code: err.code, message: err.message }
      }
      queue.push({ ...item, subSlo: false })
    } else yield item
  }
}

/** A manifest's rows (Swift's get_slo_segments); DeleteError with Swift's messages when it can't be read. */
async function manifestRows(next: SwiftHandler, req: SwiftRequest, name: string): Promise<SloRow[]> {
  const where = splitSegmentName(name)
  if (!where) throw new DeleteError(400, 'Not an SLO manifest')
  // Only the last byte of a plain object is read; a manifest comes whole (its Range is ignored).
  const a = await answerOf(next(subrequest(req, {
    method: 'GET', container: where[0], obj: where[1], query: { 'multipart-manifest': 'get' }, source: 'SLO',
    headers: { range: 'bytes=-1', 'x-backend-ignore-range-if-metadata-present': 'x-static-large-object' },
  })))
  if (a.status >= 200 && a.status < 300) {
    if (!isTrue(a.headers['x-static-large-object'])) { discardAnswer(a); throw new DeleteError(400, 'Not an SLO manifest') }
    try { return parseStoredManifest(await answerBytes(a)) } catch { throw new DeleteError(500, 'Unable to load SLO manifest') }
  }
  discardAnswer(a)
  if (a.status === 404) throw new DeleteError(404, 'SLO manifest not found')
  if (a.status === 401) throw new DeleteError(401, '401 Unauthorized')
  throw new DeleteError(500, 'Unable to load SLO manifest or segment.')
}
