import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { after, describe, test } from 'node:test'
import { imageStoreConformance } from '../../../test/conformance/image-store.ts'
import { FileImageStore } from './file-store.ts'

const root = mkdtempSync(join(tmpdir(), 'cumulo-filestore-'))
after(() => rmSync(root, { recursive: true, force: true }))

describe('FileImageStore conformance', () => {
  imageStoreConformance(async () => new FileImageStore(join(root, randomUUID())))
})

describe('FileImageStore', () => {
  test('writes DIR/<id>, leaves no temporary file behind, even after a failed write', async () => {
    const dir = join(root, 'layout')
    const s = new FileImageStore(dir)
    const id = randomUUID()
    const put = await s.put(id, Readable.from([Buffer.from('abc')]))
    assert.equal(put.location, `file://${join(dir, id)}`)
    const bad = new Readable({ read() { this.destroy(new Error('boom')) } })
    await assert.rejects(s.put(randomUUID(), bad), /boom/)
    assert.deepEqual(readdirSync(dir), [id])
  })

  test('refuses ids that are not plain names', async () => {
    const s = new FileImageStore(join(root, 'ids'))
    await assert.rejects(s.put('../escape', Readable.from([])), /bad image id/)
  })
})
