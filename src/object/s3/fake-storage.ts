// An in-memory S3Storage for tests of the S3 layer (passed in through createS3Handler's options,
// as STYLE's fakes are). It follows the port's contract to the letter, including the parts that
// matter for failure cases: a body that errors stores nothing, 'no-bucket' is answered before the
// body is read, listings are Swift's (the storage layer's own walk), and a manifest reads back
// as its segments' concatenation, failing mid-stream when a segment has gone or changed.
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { cmpNames, walkListing, type NameRange } from '../storage/db-listing.ts'
import { evaluateConditions, resolveRange } from './conditions.ts'
import type {
  BucketInfo, BucketRow, GetResult, ListOptions, ListResult, ManifestOptions, MultipartManifest,
  ObjectInfo, ObjectRow, PutOptions, PutResult, ReadOptions, ReadResult, S3Storage,
} from './port.ts'

interface FakeObject {
  info: ObjectInfo
  chunks: Buffer[]
  manifest?: MultipartManifest
}

interface FakeContainer {
  createdAt: Date
  metadata: Record<string, string>
  objects: Map<string, FakeObject>
  /** Names in code point order; rebuilt lazily after a name is added or removed. */
  sorted?: string[]
}

/** Options of FakeS3Storage. */
export interface FakeS3StorageOptions {
  /** The clock used for Last-Modified and creation dates. */
  now?: () => Date
}

/** In-memory S3Storage (see the file comment). */
export class FakeS3Storage implements S3Storage {
  private readonly accounts = new Map<string, Map<string, FakeContainer>>()
  private readonly now: () => Date

  constructor(options: FakeS3StorageOptions = {}) {
    this.now = options.now ?? (() => new Date())
  }

  /** Test helper: the object names of a container in order (undefined if there is no container). */
  objectNames(account: string, container: string): string[] | undefined {
    const c = this.container(account, container)
    return c ? [...this.sortedNames(c)] : undefined
  }

  /** Test helper: the container names of an account. */
  containerNames(account: string): string[] {
    return [...(this.accounts.get(account)?.keys() ?? [])].sort(cmpNames)
  }

  private container(account: string, container: string): FakeContainer | undefined {
    return this.accounts.get(account)?.get(container)
  }

  private sortedNames(c: FakeContainer): string[] {
    return (c.sorted ??= [...c.objects.keys()].sort(cmpNames))
  }

  async listBuckets(account: string): Promise<BucketRow[]> {
    const a = this.accounts.get(account)
    if (!a) return []
    return [...a.entries()].sort((x, y) => cmpNames(x[0], y[0])).map(([name, c]) => ({ name, createdAt: c.createdAt }))
  }

  async headBucket(account: string, container: string): Promise<BucketInfo | undefined> {
    const c = this.container(account, container)
    if (!c) return undefined
    let bytesUsed = 0
    for (const o of c.objects.values()) bytesUsed += o.info.bytes
    return { createdAt: c.createdAt, objectCount: c.objects.size, bytesUsed, metadata: { ...c.metadata } }
  }

  async createBucket(account: string, container: string, metadata: Record<string, string>): Promise<'created' | 'exists'> {
    let a = this.accounts.get(account)
    if (!a) this.accounts.set(account, (a = new Map()))
    if (a.has(container)) return 'exists'
    a.set(container, { createdAt: this.now(), metadata: { ...metadata }, objects: new Map() })
    return 'created'
  }

  async deleteBucket(account: string, container: string): Promise<'deleted' | 'not-found' | 'not-empty'> {
    const c = this.container(account, container)
    if (!c) return 'not-found'
    if (c.objects.size) return 'not-empty'
    this.accounts.get(account)!.delete(container)
    return 'deleted'
  }

  async setBucketMetadata(account: string, container: string, changes: Record<string, string | null>): Promise<'ok' | 'not-found'> {
    const c = this.container(account, container)
    if (!c) return 'not-found'
    applyChanges(c.metadata, changes)
    return 'ok'
  }

  async listObjects(account: string, container: string, o: ListOptions): Promise<ListResult> {
    const c = this.container(account, container)
    if (!c) return { status: 'no-bucket' }
    const names = this.sortedNames(c)
    const row = (name: string): ObjectRow => {
      const i = c.objects.get(name)!.info
      return { name, bytes: i.bytes, hash: i.etag, contentType: i.contentType, lastModified: i.lastModified }
    }
    const rows = walkListing({ ...o, limit: Math.min(o.limit, 10000) },
      (r) => queryRange(names, r).map(row), (r) => r.name)
    return { status: 'ok', rows }
  }

  async putObject(account: string, container: string, object: string, body: Readable, o: PutOptions): Promise<PutResult> {
    const c = this.container(account, container)
    if (!c) return { status: 'no-bucket' }
    if (o.ifNoneMatch === '*' && c.objects.has(object)) return { status: 'precondition-failed' }
    const md5 = createHash('md5')
    const chunks: Buffer[] = []
    let bytes = 0
    for await (const chunk of body as AsyncIterable<Buffer>) {
      md5.update(chunk)
      chunks.push(chunk)
      bytes += chunk.length
    }
    const etag = md5.digest('hex')
    if (o.contentLength !== undefined && bytes !== o.contentLength) {
      throw new Error(`body of ${bytes} bytes where ${o.contentLength} were announced`)
    }
    if (o.md5 !== undefined && o.md5 !== etag) return { status: 'bad-digest', etag }
    const live = this.containerOrThrow(account, container)
    if (o.ifNoneMatch === '*' && live.objects.has(object)) return { status: 'precondition-failed' }
    const now = this.now()
    this.store(live, object, {
      info: { etag, bytes, contentType: o.contentType, lastModified: now, metadata: { ...o.metadata },
        sysmeta: { ...(o.sysmeta ?? {}) }, headers: { ...(o.headers ?? {}) } },
      chunks,
    })
    return { status: 'created', etag, lastModified: now }
  }

  async putManifest(account: string, container: string, object: string, manifest: MultipartManifest,
                    o: ManifestOptions): Promise<PutResult> {
    const c = this.container(account, container)
    if (!c) return { status: 'no-bucket' }
    const now = this.now()
    this.store(c, object, {
      info: { etag: manifest.etag, bytes: manifest.bytes, contentType: o.contentType, lastModified: now,
        metadata: { ...o.metadata }, sysmeta: { ...(o.sysmeta ?? {}) }, headers: { ...(o.headers ?? {}) } },
      chunks: [],
      manifest: structuredClone(manifest),
    })
    return { status: 'created', etag: manifest.etag, lastModified: now }
  }

  async headObject(account: string, container: string, object: string, o: ReadOptions = {}): Promise<ReadResult> {
    const found = this.container(account, container)?.objects.get(object)
    if (!found) return { status: 'not-found' }
    const info = copyInfo(found.info)
    const verdict = evaluateConditions(info, o.conditions)
    if (verdict !== 'ok') return { status: verdict, info }
    return { status: 'ok', info }
  }

  async getObject(account: string, container: string, object: string, o: ReadOptions = {}): Promise<GetResult> {
    const found = this.container(account, container)?.objects.get(object)
    if (!found) return { status: 'not-found' }
    const info = copyInfo(found.info)
    const verdict = evaluateConditions(info, o.conditions)
    if (verdict !== 'ok') return { status: verdict, info }
    let span: { start: number; end: number } | undefined
    if (o.range) {
      const r = resolveRange(o.range, info.bytes)
      if (r === 'unsatisfiable') return { status: 'range-not-satisfiable', info }
      span = r
    }
    const start = span?.start ?? 0
    const end = span ? span.end + 1 : info.bytes
    const body = found.manifest
      ? Readable.from(this.manifestBytes(account, found.manifest, start, end), { objectMode: false })
      : Readable.from(sliceChunks(found.chunks, start, end), { objectMode: false })
    return span ? { status: 'ok', info, range: span, body } : { status: 'ok', info, body }
  }

  async setObjectSysmeta(account: string, container: string, object: string,
                         changes: Record<string, string | null>): Promise<'ok' | 'not-found'> {
    const found = this.container(account, container)?.objects.get(object)
    if (!found) return 'not-found'
    applyChanges(found.info.sysmeta, changes)
    return 'ok'
  }

  async deleteObject(account: string, container: string, object: string):
    Promise<{ status: 'deleted'; manifest?: MultipartManifest } | { status: 'not-found' } | { status: 'no-bucket' }> {
    const c = this.container(account, container)
    if (!c) return { status: 'no-bucket' }
    const found = c.objects.get(object)
    if (!found) return { status: 'not-found' }
    c.objects.delete(object)
    c.sorted = undefined
    return found.manifest ? { status: 'deleted', manifest: found.manifest } : { status: 'deleted' }
  }

  private containerOrThrow(account: string, container: string): FakeContainer {
    // A container deleted while a body streamed in: the write fails, as a Swift PUT would (404).
    const c = this.container(account, container)
    if (!c) throw new Error(`container ${container} vanished during the upload`)
    return c
  }

  private store(c: FakeContainer, object: string, o: FakeObject): void {
    if (!c.objects.has(object)) c.sorted = undefined
    c.objects.set(object, o)
  }

  /** The bytes [start, end) of a manifest, segment by segment, checked as Swift's SLO checks them. */
  private async *manifestBytes(account: string, m: MultipartManifest, start: number, end: number): AsyncGenerator<Buffer> {
    let offset = 0
    for (const seg of m.segments) {
      const segStart = offset
      offset += seg.bytes
      if (offset <= start) continue
      if (segStart >= end) break
      const found = this.container(account, seg.container)?.objects.get(seg.object)
      if (!found || found.info.etag !== seg.etag || found.info.bytes !== seg.bytes) {
        throw new Error(`segment ${seg.container}/${seg.object} is missing or changed`)
      }
      yield* sliceChunks(found.chunks, Math.max(0, start - segStart), Math.min(seg.bytes, end - segStart))
    }
  }
}

function applyChanges(target: Record<string, string>, changes: Record<string, string | null>): void {
  for (const [k, v] of Object.entries(changes)) {
    if (v === null) delete target[k]
    else target[k] = v
  }
}

function copyInfo(i: ObjectInfo): ObjectInfo {
  return { ...i, metadata: { ...i.metadata }, sysmeta: { ...i.sysmeta }, headers: { ...i.headers } }
}

/** The bytes [start, end) of a chunk list, without copying whole chunks. */
function* sliceChunks(chunks: Buffer[], start: number, end: number): Generator<Buffer> {
  let offset = 0
  for (const chunk of chunks) {
    const cStart = offset
    offset += chunk.length
    if (offset <= start) continue
    if (cStart >= end) return
    yield chunk.subarray(Math.max(0, start - cStart), Math.min(chunk.length, end - cStart))
  }
}

/** First index whose name is > bound (>= when inclusive), by binary search. */
function lowerIndex(names: string[], bound: string, inclusive: boolean): number {
  let lo = 0
  let hi = names.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const c = cmpNames(names[mid]!, bound)
    if (c < 0 || (c === 0 && !inclusive)) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** The names of one NameRange query (the storage layer's listing walk asks these). */
function queryRange(names: string[], r: NameRange): string[] {
  const out: string[] = []
  const from = r.lower === undefined ? 0 : lowerIndex(names, r.lower, r.lowerInclusive)
  const to = r.upper === undefined ? names.length : lowerIndex(names, r.upper, true)
  if (!r.reverse) {
    for (let i = from; i < to && out.length < r.limit; i++) out.push(names[i]!)
  } else {
    for (let i = to - 1; i >= from && out.length < r.limit; i--) out.push(names[i]!)
  }
  return out
}
