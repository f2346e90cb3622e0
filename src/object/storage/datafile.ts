// The self-describing object file (docs/object-storage.md): a fixed prefix, the JSON metadata,
// then the body. Swift keeps metadata in xattrs; a header keeps it in the same inode as the body
// with no filesystem requirement, and lets one read() fetch metadata and a small body together.
//
//   0  4   magic "CMO1"
//   4  4   N: length of the metadata region, uint32 big-endian
//   8  16  md5 of the metadata region (bit rot in metadata is detected, as Swift's checksum xattr)
//   24 N   JSON object of string values, right-padded with spaces
//   24+N   body
//
// .ts and .meta files use the same layout with an empty body.
import { createHash, randomBytes } from 'node:crypto'
import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { type FileHandle, open, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { fdatasyncFd, openFd, unwritten, writeAllSync } from './durable.ts'
import { FdFile } from './fd-file.ts'

/** Object metadata as stored: Swift's header names (title case) → values. */
export type ObjectMetadata = Record<string, string>

/** First bytes of every object file. */
export const MAGIC = Buffer.from('CMO1', 'latin1')
/** Bytes before the metadata region: magic, region length, region md5. */
export const PREFIX_LEN = 24
/** Bytes read at open: the header and, for small objects, the whole body in one read. */
export const READ_AHEAD = 64 * 1024
/** Largest metadata region accepted when reading (guards against a corrupt length). */
const MAX_META_REGION = 16 * 1024 * 1024

/** The file is not a valid object file: it gets quarantined. */
export class CorruptFileError extends Error {
  override readonly name = 'CorruptFileError'
}

/** Serializes metadata into the header (prefix + region), padding the region to at least `reserve` bytes. */
export function encodeHeader(metadata: ObjectMetadata, reserve = 0): Buffer {
  const json = Buffer.from(JSON.stringify(metadata), 'utf8')
  const regionLen = Math.max(json.length, reserve)
  const out = Buffer.alloc(PREFIX_LEN + regionLen, 0x20)
  MAGIC.copy(out, 0)
  out.writeUInt32BE(regionLen, 4)
  json.copy(out, PREFIX_LEN)
  createHash('md5').update(out.subarray(PREFIX_LEN)).digest().copy(out, 8)
  return out
}

/** Region length needed for `metadata` once ETag (32 hex) and Content-Length (≤ 20 digits) are filled in. */
export function reserveFor(metadata: ObjectMetadata): number {
  const probe = { ...metadata, ETag: 'f'.repeat(32), 'Content-Length': '9'.repeat(20) }
  return Buffer.byteLength(JSON.stringify(probe)) + 64
}

/** Total header length announced by the first bytes of a file (validating the magic). */
export function headerLength(head: Buffer): number {
  if (head.length < PREFIX_LEN || !head.subarray(0, 4).equals(MAGIC)) throw new CorruptFileError('bad magic')
  const n = head.readUInt32BE(4)
  if (n > MAX_META_REGION) throw new CorruptFileError('metadata region too large')
  return PREFIX_LEN + n
}

/** Decodes a complete header. */
export function decodeHeader(head: Buffer): { metadata: ObjectMetadata; bodyOffset: number } {
  const total = headerLength(head)
  if (head.length < total) throw new CorruptFileError('truncated metadata')
  const region = head.subarray(PREFIX_LEN, total)
  const sum = createHash('md5').update(region).digest()
  if (!sum.equals(head.subarray(8, PREFIX_LEN))) throw new CorruptFileError('metadata checksum mismatch')
  let parsed: unknown
  try { parsed = JSON.parse(region.toString('utf8')) } catch { throw new CorruptFileError('metadata is not JSON') }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new CorruptFileError('metadata is not an object')
  for (const v of Object.values(parsed)) if (typeof v !== 'string') throw new CorruptFileError('metadata value is not a string')
  return { metadata: parsed as ObjectMetadata, bodyOffset: total }
}

/** An object file opened for reading: metadata, where the body starts, and what the first read got. */
export interface OpenedFile {
  /** The open file; already closed when `inline` is set or it was opened without keepOpen. */
  file: FdFile
  metadata: ObjectMetadata
  bodyOffset: number
  /** File size in bytes. */
  fileSize: number
  /** The whole body when it came with the first read (small objects); the file is then closed. */
  inline?: Buffer
}

/**
 * Scratch buffers for the first read of an object file, reused: a fresh 64 KiB buffer per open
 * costs page faults on these VMs, and most of it would be kept alive (as the parent of a small
 * inline body) until the response is sent. What is kept is copied out instead.
 */
const scratch: Buffer[] = []
const SCRATCH_KEEP = 64

/**
 * Opens an object file and reads its header (one read for most files). With `keepOpen` false
 * or a body that fit in the first read, the file is closed before returning.
 */
export async function openObjectFile(path: string, keepOpen: boolean): Promise<OpenedFile> {
  const file = await FdFile.open(path)
  const buf = scratch.pop() ?? Buffer.allocUnsafeSlow(READ_AHEAD)
  try {
    const bytesRead = await file.read(buf, 0, READ_AHEAD, 0)
    let head = buf.subarray(0, bytesRead)
    const total = headerLength(head)
    let fileSize = bytesRead
    if (bytesRead === READ_AHEAD) fileSize = await file.size()
    if (total > head.length) {
      if (total > fileSize) throw new CorruptFileError('truncated metadata')
      const more = Buffer.allocUnsafe(total)
      head = more.subarray(0, await file.read(more, 0, total, 0))
    }
    const result = opened(file, head, buf, bytesRead, fileSize)
    if (result.inline || !keepOpen) void file.close()
    return result
  } catch (err) {
    void file.close()
    throw err
  } finally {
    if (scratch.length < SCRATCH_KEEP) scratch.push(buf)
  }
}

/**
 * openObjectFile with synchronous calls: for a client request, whose object's entries are
 * almost always in the page cache (see durable.ts). A kept-open file is then read on the pool.
 */
export function openObjectFileSync(path: string, keepOpen: boolean): OpenedFile {
  const fd = openSync(path, 'r')
  const buf = scratch.pop() ?? Buffer.allocUnsafeSlow(READ_AHEAD)
  let keep = false
  try {
    const bytesRead = readSync(fd, buf, 0, READ_AHEAD, 0)
    let head = buf.subarray(0, bytesRead)
    const total = headerLength(head)
    const fileSize = bytesRead === READ_AHEAD ? fstatSync(fd).size : bytesRead
    if (total > head.length) {
      if (total > fileSize) throw new CorruptFileError('truncated metadata')
      const more = Buffer.allocUnsafe(total)
      head = more.subarray(0, readSync(fd, more, 0, total, 0))
    }
    keep = keepOpen && fileSize > bytesRead
    return opened(FdFile.adopt(fd, keep), head, buf, bytesRead, fileSize)
  } finally {
    if (!keep) closeSync(fd)
    if (scratch.length < SCRATCH_KEEP) scratch.push(buf)
  }
}

/** The OpenedFile of a header read: a short file's whole body is copied out of the scratch buffer. */
function opened(file: FdFile, head: Buffer, buf: Buffer, bytesRead: number, fileSize: number): OpenedFile {
  const { metadata, bodyOffset } = decodeHeader(head)
  const result: OpenedFile = { file, metadata, bodyOffset, fileSize }
  // Short file: the first read reached EOF and holds the entire body.
  if (fileSize <= bytesRead) {
    // Copied out of the scratch buffer (Buffer.from of a Buffer goes element by element).
    result.inline = Buffer.allocUnsafeSlow(bytesRead - bodyOffset)
    buf.copy(result.inline, 0, bodyOffset, bytesRead)
  }
  return result
}

/** Writes `data` at `pos` in full (a positional write may be short). */
async function writeAll(fh: FileHandle, bufs: Buffer[], pos: number): Promise<void> {
  let list = bufs
  while (list.length) {
    const { bytesWritten } = await fh.writev(list, pos)
    pos += bytesWritten
    list = unwritten(list, bytesWritten)
  }
}

const SMALL_BODY = 64 * 1024
const WRITE_BATCH = 1024 * 1024

/** Temp file names: unique per process (random prefix) and per write (counter); no RNG per write. */
const TMP_PREFIX = `${randomBytes(6).toString('hex')}-${process.pid.toString(36)}`
let tmpCounter = 0

/**
 * Writes one object file into a temp directory: body chunks are hashed as they come and written
 * in large batches (one write in flight while the next batch fills); a small body stays in memory
 * and the whole file goes out in a single write. `finish` fills in the header, fdatasyncs and
 * closes; the caller renames the file into place. `abort` removes it.
 *
 * A small file (≤ 64 KiB of body) is created, written and closed synchronously (page-cache work)
 * and only its fdatasync goes to the thread pool (see durable.ts).
 */
export class TmpFileWriter {
  private readonly md5 = createHash('md5')
  private pending: Buffer[] = []
  private pendingBytes = 0
  private fh?: FileHandle
  /** The small-file path's descriptor (open between finish's write and its close). */
  private fd?: number
  private path?: string
  private pos = 0
  private inflight?: Promise<void>
  private reserve = 0
  size = 0

  constructor(private readonly tmpDir: string, private readonly metadataHint: ObjectMetadata) {}

  /** Hex md5 of everything written so far. Call once, after the last write. */
  digest(): string {
    return this.md5.digest('hex')
  }

  async write(chunk: Buffer): Promise<void> {
    this.md5.update(chunk)
    this.size += chunk.length
    this.pending.push(chunk)
    this.pendingBytes += chunk.length
    if (!this.fh && this.pendingBytes <= SMALL_BODY) return
    if (!this.fh) await this.openTmp(true)
    if (this.pendingBytes >= WRITE_BATCH) await this.flush()
  }

  private tmpName(): string {
    return join(this.tmpDir, `${TMP_PREFIX}-${(tmpCounter++).toString(36)}.tmp`)
  }

  private async openTmp(withHeader: boolean): Promise<FileHandle> {
    this.path = this.tmpName()
    const fh = await open(this.path, 'wx', 0o644)
    this.fh = fh
    if (withHeader) {
      // Reserve the header region now; the real header is written over it at the end.
      this.reserve = reserveFor(this.metadataHint)
      this.pos = PREFIX_LEN + this.reserve
    }
    return fh
  }

  private async flush(): Promise<void> {
    if (this.inflight) await this.inflight
    this.inflight = undefined
    if (!this.pendingBytes) return
    const bufs = this.pending
    const at = this.pos
    this.pos += this.pendingBytes
    this.pending = []
    this.pendingBytes = 0
    const p = writeAll(this.fh as FileHandle, bufs, at)
    p.catch(() => {}) // surfaced by the next flush/finish
    this.inflight = p
  }

  /** Writes the header with the final metadata, syncs and closes; returns the temp file path. */
  async finish(metadata: ObjectMetadata): Promise<string> {
    if (!this.fh) {
      this.path = this.tmpName()
      // Creating an inode is heavy kernel work on these disks (see durable.ts): on the pool.
      const fd = await openFd(this.path, 'wx', 0o644)
      this.fd = fd
      writeAllSync(fd, [encodeHeader(metadata), ...this.pending], 0)
      this.pending = []
      await fdatasyncFd(fd)
      this.fd = undefined
      closeSync(fd)
      return this.path
    } else {
      await this.flush()
      await this.inflight
      const header = encodeHeader(metadata, this.reserve)
      if (header.length !== PREFIX_LEN + this.reserve) throw new Error('object metadata outgrew its reserved header')
      await writeAll(this.fh, [header], 0)
    }
    const fh = this.fh
    if (!fh) throw new Error('temp file is not open')
    await fh.datasync()
    this.fh = undefined
    await fh.close()
    return this.path as string
  }

  /** Closes and removes the temp file, if any (safe to call after finish: then only the rename is left). */
  async abort(): Promise<void> {
    const fh = this.fh
    this.fh = undefined
    this.pending = []
    if (fh) {
      await this.inflight?.catch(() => {})
      await fh.close().catch(() => {})
    }
    if (this.fd !== undefined) {
      try { closeSync(this.fd) } catch { /* already closed */ }
      this.fd = undefined
    }
    if (this.path) await unlink(this.path).catch(() => { /* never created, or already renamed */ })
    this.path = undefined
  }
}
