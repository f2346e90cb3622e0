// Object PUT to every replica at once (Swift's ReplicatedObjectController._store_object).
// The body is read once and the same chunks are handed to one stream per node; the next chunk is
// read only when every node's stream has room again, so memory stays bounded by a few chunks
// per node however large the object. As Swift waits for "100 Continue" before sending data, a
// node counts as connected once its server starts reading the body; one that answers first
// (507, a 5xx) or fails is replaced by the next handoff before any byte is sent. The write is
// acknowledged when a quorum of nodes stored it (each fsyncs before answering 201).
import { Readable } from 'node:stream'
import type { Dev } from '../ring/ring.ts'
import { type BackendResponse, readBody } from '../storage/backend.ts'
import { chunksOf } from '../storage/chunks.ts'
import { SwiftError } from './errors.ts'
import { type NodeAnswer, bestResponse, haveQuorum, quorumSize } from './quorum.ts'
import type { StorageClient } from './storage-client.ts'

/** The stream one node reads the body from; `_read` calls tell when it wants more. */
class NodeSink extends Readable {
  started = false
  private onStart?: () => void
  private waiter?: () => void

  constructor(highWaterMark: number, onStart: () => void) {
    // Object mode, so a reader gets the chunks as pushed: a byte-mode read() concatenates all
    // that is buffered into a new buffer (a copy of the upload). The byte budget becomes a
    // count of (up to 64 KiB) socket chunks.
    super({ objectMode: true, highWaterMark: Math.max(2, Math.ceil(highWaterMark / 65536)) })
    this.onStart = onStart
  }

  override _read(): void {
    if (!this.started) { this.started = true; this.onStart?.(); this.onStart = undefined }
    const w = this.waiter
    this.waiter = undefined
    w?.()
  }

  /** Resolves when the reader asks for more (after a push that filled the buffer). */
  drained(): Promise<void> {
    return new Promise<void>((resolve) => { this.waiter = resolve })
  }
}

/** One replica's upload: the device it goes to, its stream, and its answer when it comes. */
interface Slot {
  dev?: Dev
  sink?: NodeSink
  /** Settles with the node's answer (or an Error when the request failed). */
  answer?: Promise<BackendResponse | Error>
  /** Set once the node answered or failed. */
  settled?: BackendResponse | Error
  /** An answer given before the body was sent (412, 409, 4xx) that ends this slot. */
  early?: NodeAnswer
}

/** What `putFanout` needs. */
export interface FanoutOptions {
  client: StorageClient
  part: number
  policy: number
  /** Quoted entity path "/a/c/o". */
  path: string
  /** Backend headers, one set per primary (container-update headers differ per node). */
  headers: Record<string, string>[]
  /** The body: the client's request stream, or a copy source's. */
  body?: Readable
  /** Announced length; undefined sends chunked. */
  contentLength?: number
  maxBytes: number
  /** Longest silence from the body source (Swift's client_timeout). */
  clientTimeoutMs: number
  /** How long a node may take to start reading or answer (Swift's node_timeout). */
  nodeTimeoutMs: number
  /** Per-node buffer. */
  highWaterMark?: number
}

/** How the upload ended: the answer to give the client (status, headers incl. etag). */
export interface FanoutResult {
  status: number
  headers: Record<string, string>
  body: Buffer
}

const empty = Buffer.alloc(0)
const unavailable = (): FanoutResult => ({ status: 503, headers: {}, body: empty })

/** Uploads one object to all its primaries (or handoffs); see the file comment. */
export async function putFanout(o: FanoutOptions): Promise<FanoutResult> {
  const ring = o.client.ring('object', o.policy)
  const nodeCount = ring.getPartNodes(o.part).length
  const quorum = quorumSize(nodeCount)
  const iter = o.client.nodes(ring, o.part)
  const slots: Slot[] = o.headers.map(() => ({}))
  const lengthHeader: Record<string, string> = o.contentLength === undefined
    ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(o.contentLength) }

  // Phase 1: "connect" each slot to a device that starts reading, replacing failures by handoffs.
  await Promise.all(slots.map((slot, i) => connect(slot, i)))
  async function connect(slot: Slot, i: number): Promise<void> {
    for (let it = iter.next(); !it.done; it = iter.next()) {
      const dev = it.value
      let onStart!: () => void
      const started = new Promise<'started'>((resolve) => { onStart = () => resolve('started') })
      const sink = new NodeSink(o.highWaterMark ?? 512 * 1024, onStart)
      // Aborting destroys sinks with an error; a node that already stopped reading has no
      // listener left, and an unheard 'error' would bring the process down.
      sink.on('error', () => {})
      const answer = o.client.send(dev, o.part, { method: 'PUT', path: o.path, headers: { ...o.headers[i], ...lengthHeader }, body: sink })
        .then((r) => r, (err: unknown) => (err instanceof Error ? err : new Error(String(err))))
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), o.nodeTimeoutMs) })
      const first = await Promise.race([started, answer, timeout])
      clearTimeout(timer)
      if (first === 'started') {
        Object.assign(slot, { dev, sink, answer })
        void answer.then((a) => { slot.settled = a })
        return
      }
      sink.destroy()
      if (first === 'timeout') {
        o.client.nodeError(dev, 'object PUT: node did not start reading in time')
        void answer.then((a) => { if (!(a instanceof Error)) discardBody(a) })
        continue
      }
      if (first instanceof Error) { o.client.nodeError(dev, `object PUT failed: ${first.message}`); continue }
      if (first.status >= 500) {
        discardBody(first)
        o.client.nodeError(dev, `object PUT answered ${first.status}`, first.status === 507)
        continue
      }
      slot.early = { status: first.status, headers: first.headers, body: await readBody(first, 1 << 20).catch(() => empty) }
      return
    }
  }

  // Aborting destroys each node's stream (its server discards the temp file and answers 499);
  // the answers still to come are drained so remote connections are freed.
  const abortAll = (why: string) => {
    for (const s of slots) {
      s.sink?.destroy(new Error(why))
      void s.answer?.then((a) => { if (!(a instanceof Error)) discardBody(a) })
    }
  }
  const early = slots.filter((s) => s.early).map((s) => s.early!)
  // Swift: any copy found for If-None-Match: * is a 412; a newer copy elsewhere (409) means
  // this PUT is already superseded, which Swift acknowledges with 202.
  if (early.some((a) => a.status === 412)) { abortAll('precondition failed'); return { status: 412, headers: {}, body: empty } }
  if (early.some((a) => a.status === 409)) { abortAll('superseded'); return { status: 202, headers: {}, body: empty } }
  const live = () => slots.filter((s) => s.sink && !s.settled)
  if (live().length < quorum) {
    if (early.length) {
      abortAll('no quorum')
      return bestResponse(padded(early, nodeCount)) ?? unavailable()
    }
    abortAll('not enough nodes')
    return unavailable()
  }

  // Phase 2: stream the body to every live node with backpressure.
  let sent = 0
  let timedOut = false
  const body = o.body
  if (body) {
    // A silent client: stop reading (without destroying the socket, so it still gets Swift's 408).
    const stop = new AbortController()
    const idle = setTimeout(() => {
      timedOut = true
      if (body instanceof Readable && !body.readableObjectMode) stop.abort(new Error('client read timeout'))
      else (body as Readable).destroy?.(new Error('client read timeout'))
    }, o.clientTimeoutMs)
    try {
      for await (const c of chunksOf(body, stop.signal)) {
        const chunk = c as Buffer
        idle.refresh()
        sent += chunk.length
        if (sent > o.maxBytes || (o.contentLength !== undefined && sent > o.contentLength)) {
          abortAll('body too large')
          throw SwiftError.text(413, 'Your request is too large.')
        }
        const waits: Promise<unknown>[] = []
        for (const s of live()) {
          if (!s.sink!.push(chunk)) waits.push(Promise.race([s.sink!.drained(), s.answer!]))
        }
        if (waits.length) await Promise.all(waits)
        if (live().length < quorum) { abortAll('lost quorum while sending'); return unavailable() }
      }
    } catch (err) {
      if (err instanceof SwiftError) throw err
      abortAll('client disconnected')
      // The rest of the body is never read: the connection cannot be reused.
      if (timedOut) throw SwiftError.status(408, { Connection: 'close' })
      throw SwiftError.status(499)
    } finally {
      clearTimeout(idle)
    }
  }
  if (o.contentLength !== undefined && sent < o.contentLength) { abortAll('short body'); throw SwiftError.status(499) }
  for (const s of live()) s.sink!.push(null)

  // Phase 3: gather the answers; a quorum decides, stragglers get a moment more.
  const answers: NodeAnswer[] = [...early]
  const running = slots.filter((s) => s.answer)
  await new Promise<void>((resolve) => {
    let pending = running.length
    let timer: NodeJS.Timeout | undefined
    const done = () => { clearTimeout(timer); resolve() }
    if (!pending) { resolve(); return }
    for (const s of running) {
      void s.answer!.then(async (a) => {
        if (a instanceof Error) o.client.nodeError(s.dev!, `object PUT failed: ${a.message}`)
        else {
          const b = await readBody(a, 1 << 20).catch(() => empty)
          if (a.status >= 500) o.client.nodeError(s.dev!, `object PUT answered ${a.status}`, a.status === 507)
          answers.push({ status: a.status, headers: a.headers, body: b })
        }
        if (--pending === 0) { done(); return }
        if (!timer && haveQuorum(answers.map((x) => x.status), nodeCount)) timer = setTimeout(done, 500)
      })
    }
  })
  const etags = new Set(answers.filter((a) => a.status >= 200 && a.status < 300).map((a) => unquote(a.headers.etag ?? '')))
  if (etags.size > 1) return { status: 500, headers: {}, body: Buffer.from('Object servers returned mismatched etags') }
  const best = bestResponse(padded(answers, nodeCount))
  if (!best) return unavailable()
  const headers: Record<string, string> = { ...best.headers }
  const etag = [...etags][0]
  if (etag) headers.etag = etag
  return { status: best.status, headers, body: best.body }
}

function padded(answers: NodeAnswer[], n: number): NodeAnswer[] {
  const out = answers.slice()
  while (out.length < n) out.push({ status: 503, headers: {}, body: empty })
  return out
}

function unquote(etag: string): string {
  return etag.replace(/^"(.*)"$/, '$1')
}

function discardBody(r: BackendResponse): void {
  if (r.body instanceof Readable) r.body.resume()
}
