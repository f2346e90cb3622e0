import assert from 'node:assert/strict'
import { PassThrough, Readable } from 'node:stream'
import { describe, it } from 'node:test'
import { chunksOf } from './chunks.ts'

describe('chunksOf', () => {
  it('hands over chunks as they were written, not concatenated', async () => {
    const s = new PassThrough()
    const parts = [Buffer.from('a'.repeat(10)), Buffer.from('b'.repeat(20)), Buffer.from('c'.repeat(30))]
    // All written before reading starts: a paused read() would return them as one buffer.
    for (const p of parts) s.write(p)
    s.end()
    const got: Buffer[] = []
    for await (const c of chunksOf<Buffer>(s)) got.push(c)
    assert.deepEqual(got, parts)
  })

  it('pauses a fast source while the reader is busy', async () => {
    const s = new PassThrough({ highWaterMark: 1 })
    let wrote = 0
    const feeder = (async () => {
      for (let i = 0; i < 50; i++) {
        if (!s.write(Buffer.alloc(100, i))) await new Promise((r) => s.once('drain', r))
        wrote++
      }
      s.end()
    })()
    let read = 0
    for await (const c of chunksOf<Buffer>(s)) {
      assert.equal(c[0], read)
      read++
      if (read === 2) {
        await new Promise((r) => setTimeout(r, 20))
        assert.ok(wrote < 50, 'the writer was held back')
      }
    }
    await feeder
    assert.equal(read, 50)
  })

  it('fails with the stream, and on a stream destroyed before its end', async () => {
    const s = new PassThrough()
    s.write('x')
    setTimeout(() => s.destroy(new Error('boom')), 5)
    await assert.rejects(async () => { for await (const c of chunksOf(s)) void c }, /boom/)
    const t = new PassThrough()
    setTimeout(() => t.destroy(), 5)
    await assert.rejects(async () => { for await (const c of chunksOf(t)) void c }, { code: 'ECONNRESET' })
  })

  it('leaves object-mode streams and other iterables alone', () => {
    const om = Readable.from([1, 2])
    assert.equal(chunksOf(om), om)
    const it = (async function* () { yield Buffer.alloc(1) })()
    assert.equal(chunksOf(it), it)
  })
})
