// Bulk delete (Swift's bulk.py handle_delete_iter): POST or DELETE with ?bulk-delete and a
// body of newline-separated, URL-encoded "/container/object" or "/container" names. Each name is
// deleted by a DELETE subrequest through the rest of the pipeline, so ACLs, versioning and the
// rest apply as to a client's own DELETE; all objects go before any container, so a container
// listed with its objects is empty by the time it is deleted.
import type { Readable } from 'node:stream'
import { CONSTRAINTS } from './constraints.ts'
import { type SwiftHandler, discardAnswer, subrequest } from './pipeline.ts'
import {
  BulkAbort, type BulkResult, pyQuote, pyUnquoteBytes, subStatus, swobStatus, utf8Name,
} from './bulk-response.ts'
import type { SwiftRequest } from './request.ts'

/** Limits of bulk delete (Swift's defaults in bulk.py's filter_factory). */
export interface BulkDeleteLimits {
  /** Names one request may hold (max_deletes_per_request). */
  maxDeletesPerRequest: number
  /** Failures after which the rest is abandoned (max_failed_deletes). */
  maxFailedDeletes: number
  /** Deletes in flight at once (delete_concurrency). */
  concurrency: number
  /** Longest silence from the client while the list is read (client_timeout). */
  clientTimeoutMs: number
}

/** Longest name a line may hold: container + object + two slashes (Swift's max_path_length). */
export const MAX_PATH_LENGTH = CONSTRAINTS.max_object_name_length + CONSTRAINTS.max_container_name_length + 2

/** Python's bytes.strip(): ASCII whitespace off both ends. */
function strip(b: Buffer): Buffer {
  let s = 0
  let e = b.length
  const ws = (c: number) => c === 0x20 || (c >= 0x09 && c <= 0x0d)
  while (s < e && ws(b[s]!)) s++
  while (e > s && ws(b[e - 1]!)) e--
  return b.subarray(s, e)
}

/**
 * The names a request body lists, URL-decoded (Swift's get_objs_to_delete): every line counts
 * against the limit (empty ones too, as Swift), 413 past it, 400 for a line longer than twice
 * the longest path. Names are bytes: one that is not UTF-8 is reported, not rejected.
 */
export async function readDeleteNames(req: SwiftRequest, max: number, clientTimeoutMs: number): Promise<Buffer[]> {
  if (req.headers['content-length'] === undefined && (req.headers['transfer-encoding'] ?? '').toLowerCase() !== 'chunked') {
    throw new BulkAbort(411)
  }
  const names: Buffer[] = []
  let line: Buffer = Buffer.alloc(0)
  const tooMany = () => { if (names.length > max) throw new BulkAbort(413, `Maximum Bulk Deletes: ${max} per request`) }
  // What is left once complete lines are taken is one unfinished line.
  const check = () => {
    tooMany()
    if (line.length > MAX_PATH_LENGTH * 2) throw new BulkAbort(400, 'Invalid File Name')
  }
  const body: Readable | undefined = req.body
  if (body) {
    // A client that stops sending is given up on (Swift's client_timeout).
    let timedOut = false
    const idle = setTimeout(() => { timedOut = true; body.destroy(new Error('client read timeout')) }, clientTimeoutMs)
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        idle.refresh()
        line = line.length ? Buffer.concat([line, chunk]) : chunk
        for (let nl = line.indexOf(0x0a); nl >= 0; nl = line.indexOf(0x0a)) {
          names.push(pyUnquoteBytes(strip(line.subarray(0, nl))))
          line = line.subarray(nl + 1)
          tooMany()
        }
        check()
      }
    } catch (err) {
      if (err instanceof BulkAbort) { body.destroy(); throw err }
      throw new BulkAbort(timedOut ? 408 : 499)
    } finally {
      clearTimeout(idle)
    }
  }
  const last = strip(line)
  if (last.length) names.push(pyUnquoteBytes(last))
  check()
  return names
}

/** One name to delete: its bytes (for error lines), and where it points unless it is not UTF-8. */
interface Target { raw: Buffer; valid: boolean; container?: string; obj?: string }

/** Where a listed name points: "/c/o" an object, "/c" (or "c/") a container, as Swift's split_path. */
function targetOf(raw: Buffer): Target {
  const rest = utf8Name(Buffer.from(raw.toString('latin1').replace(/^\/+/, ''), 'latin1'))
  if (rest === undefined) return { raw, valid: false }
  const slash = rest.indexOf('/')
  return {
    raw, valid: true,
    container: (slash < 0 ? rest : rest.slice(0, slash)) || undefined,
    obj: slash < 0 ? undefined : rest.slice(slash + 1) || undefined,
  }
}

/**
 * Deletes every listed name and fills `result` (Number Deleted / Number Not Found / Errors and
 * the Response Status Swift would give). Throws BulkAbort for what ends the whole request.
 */
export async function deleteNames(next: SwiftHandler, req: SwiftRequest, limits: BulkDeleteLimits, result: BulkResult): Promise<void> {
  const ct = req.headers['content-type']
  // Only newline-separated names are understood.
  if (ct && !ct.startsWith('text/plain')) throw new BulkAbort(406)
  const names = await readDeleteNames(req, limits.maxDeletesPerRequest, limits.clientTimeoutMs)
  const counts = result.counts
  let failedType = 400
  const fail = (raw: Buffer, status: string) => { result.errors.push([pyQuote(raw), status]) }

  // Objects first, then containers (Swift's objs_then_containers): a name is a container's
  // when it has no '/' once its outer slashes are gone.
  const objects: Target[] = []
  const containers: Target[] = []
  for (const raw of names) {
    if (!raw.length) continue
    const isObject = raw.toString('latin1').replace(/^\/+|\/+$/g, '').includes('/')
    ;(isObject ? objects : containers).push(targetOf(raw))
  }

  let stop = false
  const one = async (t: Target): Promise<void> => {
    if (!t.valid) fail(t.raw, swobStatus(412))
    else {
      const sub = subrequest(req, { method: 'DELETE', container: t.container, obj: t.container === undefined ? undefined : t.obj,
        source: 'BD' })
      const status = await subStatus(next(sub), discardAnswer)
      if (status >= 200 && status < 300) counts['Number Deleted']!++
      else if (status === 404) counts['Number Not Found']!++
      else {
        if (status >= 500) failedType = 502
        fail(t.raw, swobStatus(status))
      }
    }
    if (result.errors.length >= limits.maxFailedDeletes) stop = true
  }

  for (const batch of [objects, containers]) {
    let i = 0
    const worker = async () => {
      while (!stop && i < batch.length) await one(batch[i++]!)
    }
    await Promise.all(Array.from({ length: Math.min(limits.concurrency, batch.length) }, worker))
    if (stop) throw new BulkAbort(400, 'Max delete failures exceeded')
  }
  if (result.errors.length) result.status = failedType
  else if (!counts['Number Deleted'] && !counts['Number Not Found']) {
    result.status = 400
    result.body = 'Invalid bulk delete.'
  }
}
