// The ImageStore conformance suite: every store (file, swift) runs these same cases.
import assert from 'node:assert/strict'
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import { text } from 'node:stream/consumers'
import { test } from 'node:test'
import { ImageDataNotFound, type ImageStore } from '../../src/image/store/image-store.ts'

/** Reads a stream to one Buffer (test data is small). */
async function collect(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const c of r) parts.push(Buffer.from(c))
  return Buffer.concat(parts)
}

/** A stream of `n` bytes made on the fly in 64 KiB chunks, never held whole. */
function generated(n: number, seed = 7): { stream: Readable; md5: () => string } {
  const h = createHash('md5')
  let left = n
  const stream = new Readable({
    read() {
      if (left === 0) return this.push(null)
      const k = Math.min(left, 65536)
      const chunk = Buffer.alloc(k, (left + seed) % 251)
      left -= k
      h.update(chunk)
      this.push(chunk)
    },
  })
  return { stream, md5: () => h.digest('hex') }
}

/** Runs the suite against stores made by `make` (each test gets a fresh one). */
export function imageStoreConformance(make: () => Promise<ImageStore>, o: { skip?: string | false } = {}): void {
  const t = (name: string, fn: (s: ImageStore) => Promise<void>) => test(name, { skip: o.skip }, async () => fn(await make()))

  t('put then get returns the same bytes and size', async (s) => {
    const data = randomBytes(200_000)
    const put = await s.put(randomUUID(), Readable.from([data.subarray(0, 1000), data.subarray(1000)]))
    assert.equal(put.size, data.length)
    assert.ok(put.location.length > 0)
    assert.deepEqual(await collect(await s.get(put.location)), data)
  })

  t('ranges: from an offset, with a length, past the end', async (s) => {
    const data = Buffer.from('0123456789abcdef')
    const { location } = await s.put(randomUUID(), Readable.from([data]))
    assert.equal((await collect(await s.get(location, { offset: 10 }))).toString(), 'abcdef')
    assert.equal((await collect(await s.get(location, { offset: 2, length: 3 }))).toString(), '234')
    assert.equal((await collect(await s.get(location, { offset: 0, length: 1 }))).toString(), '0')
  })

  t('empty data is stored as zero bytes', async (s) => {
    const put = await s.put(randomUUID(), Readable.from([]))
    assert.equal(put.size, 0)
    assert.equal((await collect(await s.get(put.location))).length, 0)
  })

  t('several MiB stream through and read back intact', async (s) => {
    const n = 6 * 1024 * 1024 + 123
    const src = generated(n)
    const put = await s.put(randomUUID(), src.stream)
    assert.equal(put.size, n)
    const back = createHash('md5')
    let got = 0
    for await (const c of await s.get(put.location)) { back.update(c); got += c.length }
    assert.equal(got, n)
    assert.equal(back.digest('hex'), src.md5())
  })

  t('a stream that fails leaves nothing, and the id can be written again', async (s) => {
    const id = randomUUID()
    const bad = new Readable({ read() { this.push(Buffer.alloc(1000, 1)); this.destroy(new Error('client went away')) } })
    await assert.rejects(s.put(id, bad), /client went away/)
    const ok = await s.put(id, Readable.from([Buffer.from('second try')]))
    assert.equal(await text(await s.get(ok.location)), 'second try')
  })

  t('delete removes the data; deleting again is fine; get then says not found', async (s) => {
    const { location } = await s.put(randomUUID(), Readable.from([Buffer.from('bye')]))
    await s.delete(location)
    await s.delete(location)
    await assert.rejects(s.get(location), ImageDataNotFound)
  })

  t('locations the store did not make are not found (nothing outside the store is read)', async (s) => {
    for (const loc of ['', 'file:///etc/passwd', 'swift+http://elsewhere/v1/AUTH_x/c/o', 'nonsense']) {
      await assert.rejects(s.get(loc), ImageDataNotFound, loc)
    }
  })
}
