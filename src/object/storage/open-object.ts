// An opened object: its merged metadata (data file + fast-POST .meta, as Swift's
// _construct_from_data_file) and readers over its body. A complete read can be checked against
// the stored ETag; on a mismatch the object is quarantined and the stream fails *before* its
// last bytes go out, so a client never receives corrupt data framed as a good response.
import { createHash } from 'node:crypto'
import { Readable, Transform, type TransformCallback, pipeline } from 'node:stream'
import { Timestamp } from '../ring/timestamp.ts'
import type { ObjectMetadata, OpenedFile } from './datafile.ts'
import type { FdFile } from './fd-file.ts'
import { FileBody } from './file-body.ts'

/** Where an object lives (see diskfile.ts). */
interface Loc { device: string; partition: string; policy: number; hash: string }

/** The part of ObjectDisk an open object needs: quarantining itself. */
interface Quarantiner { quarantine(loc: Loc, reason: string): Promise<string | null> }

/** Read options: a byte range [start, end) of the body, and whether to check a full read's md5. */
export interface ReadOptions { start?: number; end?: number; verify?: boolean }

/** An object opened by ObjectDisk.open: metadata plus body readers. Close it when done. */
export interface OpenObject {
  readonly location: Loc
  /** The .data file name. */
  readonly dataFile: string
  /** Metadata as served: the data file's, overlaid by the newest .meta (Swift's merge rules). */
  readonly metadata: ObjectMetadata
  readonly dataMetadata: ObjectMetadata
  readonly metaMetadata: ObjectMetadata | null
  readonly dataTimestamp: Timestamp
  /** X-Timestamp of the merged metadata: the .meta time when there is one. */
  readonly timestamp: Timestamp
  /** When the current Content-Type was set. */
  readonly contentTypeTimestamp: Timestamp
  readonly size: number
  readonly etag: string
  /** The whole body, when it was small enough to come with the header read (no handle is held). */
  readonly inline?: Buffer
  /** Streams body bytes [start, end). With `verify`, a complete read is md5-checked (see file comment). */
  read(opts?: ReadOptions): Readable
  /** For an inline body: md5-checks it, quarantining the object on mismatch. */
  verifyInline(): Promise<boolean>
  close(): Promise<void>
}

/** Read size for bodies: large reads keep a single stream near disk/network speed. */
export const READ_CHUNK = 1024 * 1024

const RESERVED = new Set(['content-length', 'deleted', 'etag', 'x-static-large-object'])
const SYSMETA = 'x-object-sysmeta-'

function tsOrNull(v: string | undefined): Timestamp | null {
  if (!v) return null
  try { return new Timestamp(v) } catch { return null }
}

/** Merges data and .meta metadata as Swift: metadata from the POST, body facts and sysmeta from the PUT. */
export function mergeMetadata(data: ObjectMetadata, meta: ObjectMetadata | null, ctype: ObjectMetadata | null, dataTs: Timestamp): ObjectMetadata {
  if (!meta) return data
  const m: ObjectMetadata = { ...meta }
  if (ctype && ctype['Content-Type'] !== undefined) {
    const c = tsOrNull(ctype['Content-Type-Timestamp'])
    const cur = tsOrNull(m['Content-Type-Timestamp'])
    if (c && (!cur || c.compare(cur) > 0) && c.compare(dataTs) > 0) {
      m['Content-Type'] = ctype['Content-Type']
      m['Content-Type-Timestamp'] = ctype['Content-Type-Timestamp']
    }
  }
  for (const k in data) {
    const lk = k.toLowerCase()
    if (RESERVED.has(lk) || lk.startsWith(SYSMETA)) m[k] = data[k]
  }
  const ctt = tsOrNull(m['Content-Type-Timestamp'])
  if (data['Content-Type'] !== undefined && (!ctt || dataTs.compare(ctt) > 0)) {
    m['Content-Type'] = data['Content-Type']
    delete m['Content-Type-Timestamp']
  }
  return m
}

function once(buf: Buffer): Readable {
  let done = false
  return new Readable({ read() { if (!done) { done = true; if (buf.length) this.push(buf) } this.push(null) } })
}

/** Passes a whole body through, md5-checking it; the final chunk is held until the check passes. */
class VerifyingStream extends Transform {
  private readonly md5 = createHash('md5')
  private seen = 0
  constructor(private readonly expected: string, private readonly size: number,
              private readonly onBad: (reason: string) => Promise<unknown>) {
    super({ highWaterMark: 0 })
  }

  private fail(reason: string, cb: TransformCallback): void {
    this.onBad(reason).catch(() => {}).finally(() => cb(new Error(`object failed verification: ${reason}`)))
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.md5.update(chunk)
    this.seen += chunk.length
    if (this.seen < this.size) { cb(null, chunk); return }
    if (this.seen > this.size) { this.fail(`file longer than its Content-Length ${this.size}`, cb); return }
    const got = this.md5.digest('hex')
    if (got !== this.expected) this.fail(`ETag ${this.expected} and file's md5 ${got} do not match`, cb)
    else cb(null, chunk)
  }

  override _flush(cb: TransformCallback): void {
    if (this.seen !== this.size) { this.fail(`read ${this.seen} bytes, metadata says ${this.size}`, cb); return }
    if (this.size === 0 && createHash('md5').digest('hex') !== this.expected) { this.fail('ETag of empty object does not match', cb); return }
    cb()
  }
}

/** The file-backed OpenObject (built by FileObjectDisk.open). */
export class OpenObjectFile implements OpenObject {
  readonly location: Loc
  readonly dataFile: string
  readonly metadata: ObjectMetadata
  readonly dataMetadata: ObjectMetadata
  readonly metaMetadata: ObjectMetadata | null
  readonly dataTimestamp: Timestamp
  readonly timestamp: Timestamp
  readonly contentTypeTimestamp: Timestamp
  readonly size: number
  readonly etag: string
  readonly inline?: Buffer
  private readonly disk: Quarantiner
  private readonly fh?: FdFile
  private readonly bodyOffset: number
  private readonly fileBodySize: number
  private closed: Promise<void> | null = null

  constructor(a: { disk: Quarantiner; loc: Loc; dataFile: string; data: OpenedFile; meta: ObjectMetadata | null; ctype: ObjectMetadata | null; dataTimestamp: Timestamp }) {
    this.disk = a.disk
    this.location = a.loc
    this.dataFile = a.dataFile
    this.dataMetadata = a.data.metadata
    this.metaMetadata = a.meta
    this.dataTimestamp = a.dataTimestamp
    this.metadata = mergeMetadata(a.data.metadata, a.meta, a.ctype, a.dataTimestamp)
    this.timestamp = tsOrNull(this.metadata['X-Timestamp']) ?? a.dataTimestamp
    this.contentTypeTimestamp = tsOrNull(this.metadata['Content-Type-Timestamp']) ?? a.dataTimestamp
    this.size = Number(this.dataMetadata['Content-Length'])
    this.etag = (this.dataMetadata.ETag ?? '').toLowerCase()
    this.inline = a.data.inline
    this.fh = a.data.inline ? undefined : a.data.file
    this.bodyOffset = a.data.bodyOffset
    this.fileBodySize = a.data.fileSize - a.data.bodyOffset
  }

  /** A reason to quarantine the object, or null when its metadata is consistent with the file. */
  validate(): string | null {
    const d = this.dataMetadata
    if (d.name === undefined) return 'missing name metadata'
    const cl = d['Content-Length']
    if (cl === undefined || !/^\d+$/.test(cl)) return `bad metadata content-length ${cl}`
    if (this.size !== this.fileBodySize) return `metadata content-length ${cl} does not match actual object size ${this.fileBodySize}`
    if (!/^[0-9a-f]{32}$/.test(this.etag)) return `bad metadata ETag ${d.ETag}`
    const del = this.metadata['X-Delete-At']
    if (del !== undefined && !/^\d+$/.test(del)) return `bad metadata x-delete-at value ${del}`
    return null
  }

  private quarantine = (reason: string) => this.disk.quarantine(this.location, `${this.dataFile}: ${reason}`)

  read(opts: ReadOptions = {}): Readable {
    const start = opts.start ?? 0
    const end = opts.end ?? this.size
    const whole = start === 0 && end === this.size
    if (this.inline) {
      if (opts.verify && whole) {
        const body = this.inline
        const r = new Readable({ read() {} })
        this.verifyInline().then((ok) => {
          if (!ok) { r.destroy(new Error('object failed verification')); return }
          if (body.length) r.push(body)
          r.push(null)
        }, (err: Error) => r.destroy(err))
        return r
      }
      return once(this.inline.subarray(start, end))
    }
    if (!this.fh || end <= start) return once(Buffer.alloc(0))
    const rs = new FileBody(this.fh, this.bodyOffset + start, this.bodyOffset + end, READ_CHUNK)
    if (!opts.verify || !whole) return rs
    const v = new VerifyingStream(this.etag, this.size, this.quarantine)
    pipeline(rs, v, () => {})
    return v
  }

  async verifyInline(): Promise<boolean> {
    if (!this.inline) return true
    const got = createHash('md5').update(this.inline).digest('hex')
    if (got === this.etag) return true
    await this.quarantine(`ETag ${this.etag} and file's md5 ${got} do not match`)
    return false
  }

  close(): Promise<void> {
    this.closed ??= this.fh ? this.fh.close() : Promise.resolve()
    return this.closed
  }
}
