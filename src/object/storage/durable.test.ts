import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { encodeHeader, openObjectFile, openObjectFileSync, READ_AHEAD } from './datafile.ts'
import { makeDirs, syncDirs, writeAllSync } from './durable.ts'
import { WalSync } from './wal-sync.ts'

let dir: string
before(() => { dir = mkdtempSync(join(tmpdir(), 'cumulo-durable-')) })
after(() => rmSync(dir, { recursive: true, force: true }))

describe('durable writes', () => {
  it('makeDirs makes the missing levels and names the topmost one it made', async () => {
    mkdirSync(join(dir, 'objects', '7'), { recursive: true })
    const hashDir = join(dir, 'objects', '7', 'abc', 'f00abc')
    assert.equal(await makeDirs(hashDir), join(dir, 'objects', '7', 'abc'))
    assert.ok(existsSync(hashDir))
    assert.equal(await makeDirs(hashDir), undefined) // all there already
    assert.equal(await makeDirs(join(dir, 'objects', '7', 'abc', 'f01abc')), join(dir, 'objects', '7', 'abc', 'f01abc'))
    await syncDirs([hashDir, join(dir, 'objects', '7', 'abc')])
  })

  it('makeDirs refuses a path under a file', async () => {
    writeFileSync(join(dir, 'plain'), 'x')
    await assert.rejects(makeDirs(join(dir, 'plain', 'sub')), { code: 'ENOTDIR' })
  })

  it('writeAllSync writes every buffer at the position', () => {
    const p = join(dir, 'w')
    const fd = openSync(p, 'w')
    try { writeAllSync(fd, [Buffer.from('abc'), Buffer.alloc(0), Buffer.from('def')], 2) } finally { closeSync(fd) }
    assert.deepEqual(readFileSync(p), Buffer.from('\0\0abcdef'))
  })

  it('opens object files the same way synchronously and on the pool', async () => {
    const small = join(dir, 'small.data')
    writeFileSync(small, Buffer.concat([encodeHeader({ name: '/a/c/s', 'Content-Length': '5' }), Buffer.from('hello')]))
    const large = join(dir, 'large.data')
    const body = Buffer.alloc(READ_AHEAD * 2, 7)
    writeFileSync(large, Buffer.concat([encodeHeader({ name: '/a/c/l' }), body]))
    for (const open of [openObjectFile, (p: string, k: boolean) => Promise.resolve(openObjectFileSync(p, k))]) {
      const s = await open(small, true)
      assert.equal(s.metadata.name, '/a/c/s')
      assert.deepEqual(s.inline, Buffer.from('hello'))
      const l = await open(large, true)
      assert.equal(l.inline, undefined)
      assert.equal(l.fileSize - l.bodyOffset, body.length)
      const tail = Buffer.alloc(10)
      assert.equal(await l.file.read(tail, 0, 10, l.fileSize - 10), 10)
      assert.deepEqual(tail, Buffer.alloc(10, 7))
      await l.file.close()
    }
  })
})

describe('WalSync', () => {
  it('settles concurrent syncs, and syncs of a database with no -wal file', async () => {
    const path = join(dir, 'x.db')
    const db = new Database(path)
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    db.exec('CREATE TABLE t (v)')
    const w = new WalSync(path)
    for (let i = 0; i < 20; i++) db.prepare('INSERT INTO t VALUES (?)').run(i)
    await Promise.all(Array.from({ length: 20 }, () => w.sync()))
    w.closeSync()
    db.close()
    const again = new Database(path, { readonly: true })
    assert.equal((again.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n, 20)
    again.close()
    // The last connection closed after a checkpoint: no -wal file, nothing to flush.
    const gone = new WalSync(join(dir, 'never.db'))
    await gone.sync()
    gone.closeSync()
  })

  it('closeSync settles what is still waiting', async () => {
    const path = join(dir, 'y.db')
    const db = new Database(path)
    db.pragma('journal_mode = WAL')
    db.exec('CREATE TABLE t (v)')
    const w = new WalSync(path)
    const pending = [w.sync(), w.sync(), w.sync()]
    w.closeSync()
    await Promise.all(pending)
    db.close()
  })
})
