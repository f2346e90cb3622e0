import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough, Transform } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { FdFile } from './fd-file.ts'
import { FileBody } from './file-body.ts'

let dir: string
let path: string
const content = randomBytes(3 * 1024 * 1024 + 12345)
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cumulo-filebody-'))
  path = join(dir, 'f')
  writeFileSync(path, content)
})
after(() => rmSync(dir, { recursive: true, force: true }))

/** Serves one FileBody (a fresh open of [start, end) in `chunk` reads) per request; returns the URL. */
async function serve(start: number, end: number, chunk: number, onBody?: (b: FileBody, f: FdFile) => void) {
  const server = http.createServer(async (_req, res) => {
    const f = await FdFile.open(path)
    const body = new FileBody(f, start, end, chunk)
    body.on('close', () => void f.close())
    onBody?.(body, f)
    res.writeHead(200, { 'content-length': String(end - start) })
    body.pipe(res)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as { port: number }
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()) }) }
}

function fetchAll(url: string): Promise<Buffer> {
  return new Promise((resolve, reject) => http.get(url, (res) => {
    const parts: Buffer[] = []
    res.on('data', (c: Buffer) => parts.push(c))
    res.on('end', () => resolve(Buffer.concat(parts)))
    res.on('error', reject)
  }).on('error', reject))
}

describe('FileBody', () => {
  it('pipes a range into an HTTP response through reused buffers, byte for byte', async () => {
    // 64 KiB chunks over ~3 MiB: the ring of 4 buffers is reused dozens of times.
    let body: FileBody | undefined
    const s = await serve(1000, content.length - 7, 64 * 1024, (b) => { body = b })
    try {
      const got = await fetchAll(s.url)
      assert.equal(body?.pumped, true)
      assert.equal(got.length, content.length - 7 - 1000)
      assert.ok(got.equals(content.subarray(1000, content.length - 7)))
    } finally { await s.close() }
  })

  it('gives fresh buffers to other consumers (a Transform keeps chunks it was handed)', async () => {
    const f = await FdFile.open(path)
    const kept: Buffer[] = []
    // Holds every chunk until the end: a reused buffer would show up as corrupt data here.
    const hold = new Transform({ transform(c, _e, cb) { kept.push(c); cb() }, flush(cb) { for (const c of kept) this.push(c); cb() } })
    const out: Buffer[] = []
    const sink = new PassThrough()
    sink.on('data', (c: Buffer) => out.push(c))
    const body = new FileBody(f, 0, content.length, 64 * 1024)
    await new Promise<void>((resolve, reject) => {
      body.pipe(hold).pipe(sink)
      sink.on('end', resolve)
      sink.on('error', reject)
    })
    await f.close()
    assert.equal(body.pumped, false)
    assert.ok(Buffer.concat(out).equals(content))
  })

  it('streams to async iteration', async () => {
    const f = await FdFile.open(path)
    const parts: Buffer[] = []
    for await (const c of new FileBody(f, 5, 70_000, 16 * 1024)) parts.push(c as Buffer)
    await f.close()
    assert.ok(Buffer.concat(parts).equals(content.subarray(5, 70_000)))
  })

  it('fails on a file shorter than its range', async () => {
    const f = await FdFile.open(path)
    const body = new FileBody(f, content.length - 10, content.length + 10, 1024)
    await assert.rejects(async () => { for await (const c of body) void c }, /ended 10 bytes early/)
    await f.close()
  })

  it('stops reading when the client goes away, and closes only after the last read', async () => {
    let body: FileBody | undefined
    let file: FdFile | undefined
    const s = await serve(0, content.length, 16 * 1024, (b, f) => { body = b; file = f })
    try {
      await new Promise<void>((resolve) => {
        const req = http.get(s.url, (res) => { res.once('data', () => { req.destroy(); resolve() }) })
        req.on('error', () => {})
      })
      await new Promise<void>((resolve) => (body!.closed ? resolve() : body!.once('close', () => resolve())))
      assert.equal(body!.destroyed, true)
      // The file was closed after the body: reads now fail instead of hitting a reused descriptor.
      await assert.rejects(file!.read(Buffer.alloc(1), 0, 1, 0), { code: 'EBADF' })
    } finally { await s.close() }
  })
})

describe('FdFile', () => {
  it('defers close until reads in flight are done', async () => {
    const f = await FdFile.open(path)
    const buf = Buffer.alloc(1024 * 1024)
    const reading = f.read(buf, 0, buf.length, 0)
    const closing = f.close()
    assert.equal(await reading, buf.length)
    assert.ok(buf.equals(content.subarray(0, buf.length)))
    await closing
    await assert.rejects(f.read(buf, 0, 1, 0), { code: 'EBADF' })
  })
})
