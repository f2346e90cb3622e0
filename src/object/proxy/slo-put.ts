// PUT ?multipart-manifest=put (Swift's handle_multipart_put): the client's segment list is
// checked (slo-manifest.ts), every segment is HEADed through the pipeline — so the caller must
// be able to read it, and a nested SLO or DLO shows its whole size and ETag — and compared with
// what the client said; then the manifest is stored with X-Static-Large-Object, the SLO's ETag
// and size in sysmeta, and the container listing row showing the SLO's size and `slo_etag`.
// With ?heartbeat=on the answer is a 202 at once, whitespace while segments are checked, and
// the real status in the body.
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { parseRange, rangesForLength } from '../storage/object-read.ts'
import { isTrue } from '../storage/storage-util.ts'
import { SwiftError } from './errors.ts'
import { guessType } from './mime.ts'
import { type SwiftHandler, discardAnswer, subrequest } from './pipeline.ts'
import type { ClientAnswer, SwiftRequest } from './request.ts'
import { type ResultFormat, heartbeatBody, resultBody, resultFormat, statusLine } from './slo-format.ts'
import {
  type InputSegment, SLO_ETAG, SLO_SIZE, type SloRow, manifestJson, parseManifestInput, pyQuote, rowTimestamp, sloEtag,
} from './slo-manifest.ts'
import { answerOf } from './slo-subrequests.ts'

/** Write-side settings of the slo middleware (Swift's names and defaults). */
export interface SloWriteOptions {
  maxManifestSegments: number
  maxManifestSize: number
  /** Seconds between heartbeats (yield_frequency). */
  yieldFrequency: number
  /** Segment HEADs in flight at once. */
  concurrency: number
}

const OVERRIDE_ETAG = 'x-object-sysmeta-container-update-override-etag'
/** swob's texts for the statuses a heartbeat body may report without a body of their own. */
const REASON_TEXT: Record<number, string> = {
  400: 'Bad Request\nThe server could not comply with the request since it is either malformed or otherwise incorrect.',
  422: 'Unprocessable Entity\nThe request was well-formed but was unable to be followed due to semantic errors.',
}

const md5hex = (b: Buffer | string) => createHash('md5').update(b).digest('hex')
const unquote = (s: string | undefined) => (s ?? '').replace(/^"(.*)"$/, '$1')

/** Reads a request body of at most `limit` bytes; 413 beyond. */
async function readBody(body: Readable | undefined, limit: number): Promise<Buffer> {
  if (!body) return Buffer.alloc(0)
  const chunks: Buffer[] = []
  let n = 0
  for await (const c of body as AsyncIterable<Buffer>) {
    n += c.length
    if (n > limit) throw htmlError(413, `Manifest File > ${limit} bytes`)
    chunks.push(c)
  }
  return Buffer.concat(chunks)
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function mapLimit<T>(items: readonly T[], limit: number, fn: (x: T) => Promise<void>): Promise<void> {
  let i = 0
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (i < items.length) await fn(items[i++]!)
  }))
}

/** Handles PUT ?multipart-manifest=put; `self` is the slo handler (segments are HEADed through it). */
export async function sloPut(self: SwiftHandler, next: SwiftHandler, req: SwiftRequest, o: SloWriteOptions): Promise<ClientAnswer> {
  if (req.headers['x-copy-from']) throw htmlError(405, 'Multipart Manifest PUTs cannot be COPY requests')
  const cl = req.headers['content-length']
  if (cl === undefined) {
    if ((req.headers['transfer-encoding'] ?? '').toLowerCase() !== 'chunked') throw SwiftError.status(411)
  } else if (Number(cl) > o.maxManifestSize) throw htmlError(413, `Manifest File > ${o.maxManifestSize} bytes`)
  const input = parseManifestInput(await readBody(req.body, o.maxManifestSize), `${req.container}/${req.obj}`)
  if (input.filter((s) => 'path' in s).length > o.maxManifestSegments) {
    throw htmlError(413, `Number of object-backed segments must be <= ${o.maxManifestSegments}`)
  }
  const format = resultFormat(req.headers.accept) as ResultFormat
  if (!isTrue(req.query.get('heartbeat') ?? undefined)) return (await build(self, next, req, input, o, format)).answer
  const work = build(self, next, req, input, o, format).then((r) => r.heartbeat)
  return { status: 202, headers: { 'content-type': format }, body: await heartbeatBody(work, { everySeconds: o.yieldFrequency, first: Buffer.from(' ') }) }
}

const htmlError = (status: number, body: string) => new SwiftError(status, Buffer.from(body), 'text/html; charset=UTF-8')

/** The outcome as a plain answer and as a heartbeat result body. */
interface Built { answer: ClientAnswer; heartbeat: Buffer }

async function build(self: SwiftHandler, next: SwiftHandler, req: SwiftRequest, input: InputSegment[], o: SloWriteOptions,
                     format: ResultFormat): Promise<Built> {
  const rows: SloRow[] = new Array(input.length)
  const problems: Array<[string, string]> = []
  let total = 0
  const byPath = new Set<string>()
  input.forEach((s, i) => {
    if ('data' in s) { rows[i] = { data: s.data }; total += Buffer.from(s.data, 'base64').length } else byPath.add(s.path)
  })
  const heads = new Map<string, ClientAnswer>()
  await mapLimit([...byPath], o.concurrency, async (path) => {
    const p = path.replace(/^\/+/, '')
    const slash = p.indexOf('/')
    const head = await answerOf(self(subrequest(req, { method: 'HEAD', container: p.slice(0, slash), obj: p.slice(slash + 1), source: 'SLO' })))
    discardAnswer(head)
    heads.set(path, head)
  })
  // Checked in manifest order, so the problems are listed in that order.
  input.forEach((s, i) => {
    if ('data' in s) return
    const r = checkSegment(s, heads.get(s.path)!, i === input.length - 1, problems)
    rows[i] = r.row
    total += r.length
  })
  if (problems.length) {
    const body = resultBody(format, { 'Response Status': statusLine(400), 'Response Body': REASON_TEXT[400]! }, problems, 'upload')
    return { answer: { status: 400, headers: { 'content-type': format }, body: resultBody(format, {}, problems, 'upload') }, heartbeat: body }
  }
  const etag = sloEtag(rows)
  const clientEtag = unquote(req.headers.etag)
  if (clientEtag && clientEtag !== etag) {
    const err = SwiftError.status(422)
    return { answer: { status: 422, headers: { 'content-type': err.contentType }, body: err.body },
      heartbeat: resultBody(format, { 'Response Status': statusLine(422), 'Response Body': REASON_TEXT[422]! }, [], 'upload') }
  }
  const json = manifestJson(rows)
  const headers: Record<string, string> = {}
  for (const k in req.headers) if (k !== 'content-length' && k !== 'transfer-encoding' && k !== 'etag') headers[k] = req.headers[k]
  // Listings show the SLO's size and ETag (with its manifest's MD5 as the row's hash, as Swift);
  // a middleware to the left may already have set the base value.
  const jsonMd5 = md5hex(json)
  const [base, ...params] = (headers[OVERRIDE_ETAG] ?? '').split(';')
  Object.assign(headers, {
    [SLO_ETAG]: etag, [SLO_SIZE]: String(total), 'x-static-large-object': 'True', etag: jsonMd5,
    'content-length': String(json.length),
    [OVERRIDE_ETAG]: `${[base || jsonMd5, ...params].join(';')}; slo_etag=${etag}`,
  })
  // The listing shows the SLO's size through swift_bytes, while the container's bytes-used
  // counts the manifest's own (Swift's choice: segments are not counted twice).
  const ctype = headers['content-type'] && !isTrue(headers['x-detect-content-type']) ? headers['content-type']
    : guessType(req.obj!) ?? 'application/octet-stream'
  delete headers['x-detect-content-type']
  headers['content-type'] = `${ctype};swift_bytes=${total}`
  const resp = await answerOf(next({ ...req, headers, body: Readable.from([json]) }))
  const ok = resp.status >= 200 && resp.status < 300
  if (ok) resp.headers = { ...resp.headers, etag: `"${etag}"` }
  const summary: Record<string, string> = { 'Response Status': statusLine(resp.status) }
  if (ok) { summary.Etag = resp.headers.etag!; summary['Last Modified'] = resp.headers['last-modified'] ?? '' }
  // A PUT's answer body is a short text (or none), never a stream.
  summary['Response Body'] = Buffer.isBuffer(resp.body) ? resp.body.toString() : ''
  return { answer: resp, heartbeat: resultBody(format, summary, [], 'upload') }
}

/** Checks one segment against its HEAD (Swift's validate_seg_dict); returns its stored row and length. */
function checkSegment(seg: Extract<InputSegment, { path: string }>, head: ClientAnswer, allowEmpty: boolean,
                      problems: Array<[string, string]>): { row: SloRow; length: number } {
  const name = pyQuote(seg.path)
  if (head.status < 200 || head.status >= 300) {
    problems.push([name, statusLine(head.status)])
    return { row: {}, length: 0 }
  }
  const size = Number(head.headers['content-length'] ?? 0)
  let length = size
  let range: string | undefined
  if (seg.range) {
    const ranges = rangesForLength(parseRange(`bytes=${seg.range}`)!, size)
    if (!ranges.length) problems.push([name, 'Unsatisfiable Range'])
    else if (ranges[0]![0] !== 0 || ranges[0]![1] !== size) {
      // A range covering the whole object is dropped, as Swift does.
      range = `${ranges[0]![0]}-${ranges[0]![1] - 1}`
      length = ranges[0]![1] - ranges[0]![0]
    }
  }
  if (length < 1 && !allowEmpty) problems.push([name, 'Too small; each segment must be at least 1 byte.'])
  if (seg.sizeBytes !== undefined && seg.sizeBytes !== size) problems.push([name, 'Size Mismatch'])
  const etag = unquote(head.headers.etag)
  if (seg.etag !== undefined && seg.etag !== null && seg.etag !== etag) problems.push([name, 'Etag Mismatch'])
  const row: SloRow = { name: '/' + seg.path.replace(/^\/+/, ''), bytes: size, hash: etag,
    content_type: (head.headers['content-type'] ?? '').split(';')[0], last_modified: rowTimestamp(head.headers['last-modified']) }
  if (range) row.range = range
  if (isTrue(head.headers['x-static-large-object'])) row.sub_slo = true
  return { row, length }
}
