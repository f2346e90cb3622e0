// Archive extraction (Swift's bulk.py handle_extract_iter): PUT /v1/<account>[/<container>
// [/<prefix>]]?extract-archive=tar|tar.gz|tar.bz2 streams the archive through gunzip or bunzip2 and a
// tar parser; every regular file becomes an object PUT subrequest through the rest of the
// pipeline (quotas and ACLs apply), creating its container first when it is missing. The archive
// is never held whole: a large file streams from the parser into its PUT; small ones are read
// into memory and several are stored at once (fsync-bound PUTs in parallel), bounded.
import { Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'
import bunzip2 from 'unbzip2-stream'
import { type Header, extract as tarExtract } from 'tar-stream'
import { CONSTRAINTS } from './constraints.ts'
import { type SwiftHandler, discardAnswer, subrequest } from './pipeline.ts'
import { BulkAbort, type BulkResult, pyQuote, subStatus, swobStatus, utf8Name } from './bulk-response.ts'
import { MAX_PATH_LENGTH } from './bulk-delete.ts'
import type { SwiftRequest } from './request.ts'

/** Limits and tuning of extraction. */
export interface ExtractLimits {
  /** Containers one archive may create (max_containers_per_extraction). */
  maxContainers: number
  /** Failures after which the rest of the archive is ignored (max_failed_extractions). */
  maxFailedExtractions: number
  /** Object PUTs in flight at once (files up to `smallFileBytes` are read ahead to allow it). */
  concurrency: number
  smallFileBytes: number
  /** Longest silence from the client while the archive is expected (client_timeout). */
  clientTimeoutMs: number
}

/** A tar entry as tar-stream hands it out (a streamx Readable). */
type Entry = Readable & { header: Header & { pax?: Record<string, string> | null } }

/** Whether an entry is fully read (streamx closes a consumed stream). */
function drain(e: Entry): Promise<void> {
  if (e.destroyed) return Promise.resolve()
  return new Promise((resolve) => {
    e.on('close', resolve)
    e.on('error', () => resolve())
    e.resume()
  })
}

/**
 * A Node stream over an entry for the PUT, whose end does not end the archive: destroying it
 * (a failed PUT) leaves the entry to be drained, as destroying a tar-stream entry destroys the
 * whole extraction.
 */
function shield(e: Entry): { body: Readable; failed: () => boolean; release(): Promise<void> } {
  let detached = false
  let failed = false
  const body = new Readable({ read() { e.resume() } })
  // The PUT may not be reading yet when the archive breaks; it sees the error when it does.
  body.on('error', () => {})
  e.on('data', (c: Buffer) => { if (!detached && !body.push(c)) e.pause() })
  e.on('end', () => { if (!detached) body.push(null) })
  e.on('error', (err: Error) => { failed = true; if (!detached) body.destroy(err) })
  return { body, failed: () => failed, release() { detached = true; return drain(e) } }
}

async function readAll(e: Entry): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of e as AsyncIterable<Buffer>) chunks.push(c)
  return Buffer.concat(chunks)
}

/** Pax xattrs GNU and BSD tar write that become object headers (Swift's pax_key_to_swift_header). */
function paxHeader(key: string): string | undefined {
  for (const p of ['SCHILY.xattr.user.', 'LIBARCHIVE.xattr.user.']) {
    if (!key.startsWith(p)) continue
    const rest = key.slice(p.length)
    if (rest === 'mime_type') return 'content-type'
    if (rest.startsWith('meta.')) return 'x-object-meta-' + latin1(rest.slice(5)).replace(/[A-Z]/g, (c) => c.toLowerCase())
  }
  return undefined
}

/** A string as the latin-1 view of its UTF-8 bytes, as header values travel here. */
const latin1 = (s: string) => Buffer.from(s, 'utf8').toString('latin1')

/** How the archive is compressed (`extract-archive=tar|tar.gz|tar.bz2`). */
export type ArchiveKind = 'tar' | 'gz' | 'bz2'

/** The message Python's tarfile/zlib would give, for "Invalid Tar File: <message>". */
function archiveMessage(err: Error, kind: ArchiveKind): string {
  const m = err.message
  if (/^Invalid tar header/.test(m) || m === 'Invalid header') return 'invalid header'
  if (/Unexpected end of data|unexpected end of file/i.test(m)) return 'unexpected end of data'
  if (kind === 'gz' && /incorrect header check/.test(m)) return 'not a gzip file'
  if (kind === 'bz2' && /No magic number found/.test(m)) return 'not a bzip2 file'
  if (kind === 'bz2' && /crc|bzip2|magic|block/i.test(m)) return `Invalid data stream (${m})`
  if ((err as NodeJS.ErrnoException).code?.startsWith('Z_')) return `Error -3 while decompressing data: ${m}`
  return m
}

/**
 * Extracts the request's archive into its account and fills `result` (Number Files Created,
 * Errors, the Response Status Swift would give). `kind` selects the decompressor (gunzip,
 * bunzip2 or none). Throws BulkAbort for what
 * ends the whole request (a broken archive is "400 Invalid Tar File: …").
 */
export async function extractArchive(next: SwiftHandler, req: SwiftRequest, kind: ArchiveKind, limits: ExtractLimits,
                                     result: BulkResult): Promise<void> {
  if (req.headers['content-length'] === undefined && (req.headers['transfer-encoding'] ?? '').toLowerCase() !== 'chunked') {
    throw new BulkAbort(411)
  }
  const base = [req.container, req.obj].filter((x) => x !== undefined).join('/').replace(/\/+$/, '')
  const counts = result.counts
  let failedType = 400
  const fail = (name: Buffer, status: string) => { result.errors.push([pyQuote(name.subarray(0, MAX_PATH_LENGTH)), status]) }

  // The archive: client body → (gunzip or bunzip2) → tar parser. Which stage failed decides the answer.
  const ex = tarExtract({ filenameEncoding: 'latin1', allowUnknownFormat: true } as object)
  let inputBytes = 0
  let clientError: BulkAbort | undefined
  let zlibError: Error | undefined
  const source = req.body
  let idle: NodeJS.Timeout | undefined
  if (source) {
    const gunzip: NodeJS.ReadWriteStream | undefined = kind === 'gz' ? createGunzip() : kind === 'bz2' ? bunzip2() : undefined
    const failWith = (err: Error) => (ex as unknown as Readable).destroy(err)
    source.on('data', (c: Buffer) => { inputBytes += c.length; idle?.refresh() })
    source.on('error', (err) => { clientError ??= new BulkAbort(499); failWith(err) })
    source.on('close', () => {
      if (source.readableEnded) return
      clientError ??= new BulkAbort(499)
      failWith(new Error('client disconnected'))
    })
    // A client that stops sending while nothing holds it back is given up on (client_timeout).
    idle = setInterval(() => {
      if (source.readableEnded) { clearInterval(idle); return }
      if (source.readableFlowing === false) return
      clientError = new BulkAbort(408)
      failWith(new Error('client read timeout'))
    }, limits.clientTimeoutMs)
    if (gunzip) {
      gunzip.on('error', (err) => { zlibError = err; failWith(err) })
      source.pipe(gunzip).pipe(ex as unknown as NodeJS.WritableStream)
    } else source.pipe(ex as unknown as NodeJS.WritableStream)
  } else (ex as unknown as NodeJS.WritableStream).end()

  const containers = new Map<string, Promise<[string, string] | undefined>>()
  let created = 0
  let abort: BulkAbort | undefined
  let bug: unknown
  const inflight = new Set<Promise<void>>()

  /** Swift's create_container: HEAD, then PUT on 404; the failure to report if neither worked. */
  const ensureContainer = async (container: string): Promise<[string, string] | undefined> => {
    const head = await subStatus(next(subrequest(req, { method: 'HEAD', container, source: 'EA' })), discardAnswer)
    if (head >= 200 && head < 300) return undefined
    let status = head
    if (head === 404) {
      status = await subStatus(next(subrequest(req, { method: 'PUT', container, source: 'EA' })), discardAnswer)
      if (status >= 200 && status < 300) {
        if (++created > limits.maxContainers) throw new BulkAbort(400, `More than ${limits.maxContainers} containers to create from tar.`)
        return undefined
      }
    }
    if (status === 401) throw new BulkAbort(401)
    return [pyQuote(Buffer.from(`/${req.env?.get('swift.version') ?? 'v1'}/${req.account}/${container}`).subarray(0, MAX_PATH_LENGTH)), swobStatus(status)]
  }

  /** One object PUT's status. */
  const put = (container: string, obj: string, headers: Record<string, string>, body: Readable | undefined): Promise<number> =>
    subStatus(next(subrequest(req, { method: 'PUT', container, obj, headers, body, source: 'EA' })), discardAnswer)

  /** Counts a PUT's outcome; `containerFailure` is reported with a failed first file of its container. */
  const record = (objPath: Buffer, status: number, containerFailure: [string, string] | undefined): void => {
    if (status >= 200 && status < 300) { counts['Number Files Created']!++; return }
    if (containerFailure) result.errors.push(containerFailure)
    if (status === 401) {
      fail(objPath, swobStatus(401))
      abort ??= new BulkAbort(401)
      return
    }
    if (status >= 500) failedType = 502
    fail(objPath, swobStatus(status))
  }

  const it = (ex as unknown as AsyncIterable<Entry>)[Symbol.asyncIterator]()
  try {
    for (;;) {
      let step: IteratorResult<Entry>
      try { step = await it.next() } catch (err) {
        if (clientError) throw clientError
        if (zlibError) throw new BulkAbort(400, `Invalid Tar File: ${archiveMessage(zlibError, kind)}`)
        throw new BulkAbort(400, `Invalid Tar File: ${archiveMessage(err as Error, kind)}`)
      }
      if (step.done) break
      const entry = step.value
      if (abort || result.errors.length >= limits.maxFailedExtractions) { await drain(entry); break }
      const h = entry.header
      if (h.type !== 'file' && h.type !== 'contiguous-file') { await drain(entry); continue }
      // A pax path is already text; a ustar name is raw bytes (read as latin-1).
      let path = Buffer.from(h.name, h.pax?.path !== undefined ? 'utf8' : 'latin1').toString('latin1')
      if (path.startsWith('./')) path = path.slice(2)
      path = path.replace(/^\/+/, '')
      if (base) path = latin1(base) + '/' + path
      const slash = path.indexOf('/')
      // Files at the archive's top level map to no container: ignored, as by Swift.
      if (slash < 0 || slash === path.length - 1) { await drain(entry); continue }
      const objPath = Buffer.from(path, 'latin1')
      const name = utf8Name(objPath)
      const size = h.size ?? 0
      if (name === undefined) { fail(objPath, swobStatus(412)); await drain(entry); continue }
      if (size > CONSTRAINTS.max_file_size) { fail(objPath, swobStatus(413)); await drain(entry); continue }
      const container = name.slice(0, name.indexOf('/'))
      const obj = name.slice(name.indexOf('/') + 1)

      let ready = containers.get(container)
      let containerFailure: [string, string] | undefined
      if (!ready) {
        ready = ensureContainer(container)
        containers.set(container, ready)
        // The first file of a container reports the container's failure with its own.
        containerFailure = await ready
      } else await ready

      const headers: Record<string, string> = { 'content-length': String(size) }
      for (const k in req.headers) {
        if (k === 'x-delete-at' || k === 'x-delete-after' || (k.startsWith('x-object-meta-') && k.length > 14)) headers[k] = req.headers[k]!
      }
      for (const [k, v] of Object.entries(h.pax ?? {})) {
        const hk = paxHeader(k)
        if (hk) headers[hk] = latin1(v)
      }

      // A file the archive breaks in is not reported: the archive's error (next step) says why.
      if (size <= limits.smallFileBytes && limits.concurrency > 1) {
        let data: Buffer | undefined
        try { data = size ? await readAll(entry) : undefined } catch { continue }
        while (inflight.size >= limits.concurrency) await Promise.race(inflight)
        if (abort) break
        const p: Promise<void> = put(container, obj, headers, data && Readable.from([data]))
          .then((status) => record(objPath, status, containerFailure))
          .catch((err: unknown) => { bug ??= err; abort ??= new BulkAbort(500, '') })
          .finally(() => { inflight.delete(p) })
        inflight.add(p)
      } else {
        const sh = shield(entry)
        let status: number
        try { status = await put(container, obj, headers, size ? sh.body : undefined) } finally { await sh.release() }
        if (!sh.failed()) record(objPath, status, containerFailure)
      }
    }
  } finally {
    if (idle) clearInterval(idle)
    await Promise.allSettled(inflight)
    // Whatever was not read stays unread: the connection is closed after the answer.
    if (source) source.unpipe()
    await it.return?.()
  }
  if (bug) throw bug
  if (abort) throw abort
  if (inputBytes === 0 && !counts['Number Files Created'] && !result.errors.length) throw new BulkAbort(400, 'Invalid Tar File: empty file')
  if (result.errors.length) result.status = failedType
  else if (!counts['Number Files Created']) {
    result.status = 400
    result.body = 'Invalid Tar File: No Valid Files'
  }
}
