import assert from 'node:assert/strict'
import { closeSync, existsSync, openSync, readSync, readdirSync, truncateSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { hashPath } from '../ring/hash.ts'
import { type BackendHandler, callBackend, readBody } from './backend.ts'
import { createObjectServer } from './object-server.ts'
import { parseRange, rangesForLength } from './object-read.ts'
import { HASH_CFG, call, freshTs, putCall, tempDevices } from './object-test-kit.ts'

const BODY = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz')

describe('ranges (swob rules)', () => {
  it('parses and resolves byte ranges', () => {
    assert.deepEqual(rangesForLength(parseRange('bytes=0-4') ?? [], 10), [[0, 5]])
    assert.deepEqual(rangesForLength(parseRange('bytes=-3') ?? [], 10), [[7, 10]])
    assert.deepEqual(rangesForLength(parseRange('bytes=-30') ?? [], 10), [[0, 10]])
    assert.deepEqual(rangesForLength(parseRange('bytes=8-') ?? [], 10), [[8, 10]])
    assert.deepEqual(rangesForLength(parseRange('bytes=5-100') ?? [], 10), [[5, 10]])
    assert.deepEqual(rangesForLength(parseRange('bytes=10-20') ?? [], 10), [])
    assert.deepEqual(rangesForLength(parseRange('bytes=-0') ?? [], 10), [])
    for (const bad of ['bytes=5-3', 'bytes=-', 'bytes=4', 'items=0-1', 'bytes=a-1', 'bytes=1--2']) assert.equal(parseRange(bad), null, bad)
    // More than 2 overlapping ranges, or ≥ 8 out of order, are refused as egregious.
    assert.deepEqual(rangesForLength(parseRange('bytes=0-5,1-6,2-7,3-8') ?? [], 10), [])
    assert.deepEqual(rangesForLength(parseRange('bytes=9-9,8-8,7-7,6-6,5-5,4-4,3-3,2-2') ?? [], 10), [])
    assert.equal(rangesForLength(parseRange('bytes=' + Array.from({ length: 51 }, (_, i) => `${i}-${i}`).join(',')) ?? [], 100).length, 0)
  })
})

describe('object GET: ranges, conditionals, quarantine', () => {
  let env: ReturnType<typeof tempDevices>
  let srv: BackendHandler
  let etag = ''
  let ts = ''
  before(async () => {
    env = tempDevices(['sda'])
    srv = createObjectServer({ devicesRoot: env.root, hashConfig: HASH_CFG })
    ts = freshTs()
    const r = await call(srv, putCall('/sda/1/a/c/o', BODY, { 'x-timestamp': ts, 'content-type': 'text/plain' }))
    etag = r.headers.etag.replace(/"/g, '')
  })
  after(() => env.cleanup())
  const get = (headers: Record<string, string>, path = '/sda/1/a/c/o') => call(srv, { method: 'GET', path, headers })

  it('serves a single range with 206 and Content-Range', async () => {
    const r = await get({ range: 'bytes=10-15' })
    assert.equal(r.status, 206)
    assert.equal(r.text, 'abcdef')
    assert.equal(r.headers['content-range'], `bytes 10-15/${BODY.length}`)
    assert.equal(r.headers['content-length'], '6')
    const tail = await get({ range: 'bytes=-4' })
    assert.equal(tail.text, 'wxyz')
  })

  it('serves multiple ranges as multipart/byteranges with an exact Content-Length', async () => {
    const r = await get({ range: 'bytes=0-1,-2' })
    assert.equal(r.status, 206)
    const m = /^multipart\/byteranges;boundary=([0-9a-f]{32})$/.exec(r.headers['content-type'])
    assert.ok(m, r.headers['content-type'])
    const b = m[1]
    assert.equal(r.text,
      `--${b}\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/36\r\n\r\n01\r\n` +
      `--${b}\r\nContent-Type: text/plain\r\nContent-Range: bytes 34-35/36\r\n\r\nyz\r\n--${b}--`)
    assert.equal(r.headers['content-length'], String(r.buf.length))
  })

  it('serves multiple ranges of a large (streamed) object', async () => {
    const big = Buffer.alloc(300_000)
    for (let i = 0; i < big.length; i++) big[i] = 65 + (i % 26)
    await call(srv, putCall('/sda/1/a/c/mr', big, { 'content-type': 'x/y' }))
    const r = await get({ range: 'bytes=0-2,100000-100002,-3' }, '/sda/1/a/c/mr')
    assert.equal(r.status, 206)
    const b = /boundary=(\w+)/.exec(r.headers['content-type'])?.[1]
    const part = (s: number, e: number) => `--${b}\r\nContent-Type: x/y\r\nContent-Range: bytes ${s}-${e}/300000\r\n\r\n${big.subarray(s, e + 1).toString()}\r\n`
    assert.equal(r.text, part(0, 2) + part(100000, 100002) + part(299997, 299999) + `--${b}--`)
    assert.equal(r.headers['content-length'], String(r.buf.length))
    const single = await get({ range: 'bytes=150000-150009' }, '/sda/1/a/c/mr')
    assert.ok(single.buf.equals(big.subarray(150000, 150010)))
  })

  it('answers 416 for unsatisfiable ranges and ignores invalid ones', async () => {
    const r = await get({ range: 'bytes=100-200' })
    assert.equal(r.status, 416)
    assert.equal(r.headers['content-range'], `bytes */${BODY.length}`)
    const ignored = await get({ range: 'bytes=9-1' })
    assert.equal(ignored.status, 200)
    assert.equal(ignored.buf.length, BODY.length)
  })

  it('applies If-Match / If-None-Match / If-(Un)Modified-Since as swob', async () => {
    assert.equal((await get({ 'if-none-match': `"${etag}"` })).status, 304)
    assert.equal((await get({ 'if-none-match': '*' })).status, 304)
    assert.equal((await get({ 'if-none-match': '"other"' })).status, 200)
    assert.equal((await get({ 'if-match': '"other"' })).status, 412)
    assert.equal((await get({ 'if-match': `"x", "${etag}"` })).status, 200)
    assert.equal((await get({ 'if-match': '*' })).status, 200)
    const lm = Math.ceil(Number(ts))
    assert.equal((await get({ 'if-modified-since': new Date(lm * 1000).toUTCString() })).status, 304)
    assert.equal((await get({ 'if-modified-since': new Date((lm - 10) * 1000).toUTCString() })).status, 200)
    assert.equal((await get({ 'if-unmodified-since': new Date((lm - 10) * 1000).toUTCString() })).status, 412)
    assert.equal((await get({ 'if-unmodified-since': new Date(lm * 1000).toUTCString() })).status, 200)
    assert.equal((await get({ 'if-modified-since': 'garbage' })).status, 200)
    const head304 = await call(srv, { method: 'HEAD', path: '/sda/1/a/c/o', headers: { 'if-none-match': etag } })
    assert.equal(head304.status, 304)
    assert.equal(head304.headers.etag, `"${etag}"`)
    assert.equal((await get({ 'if-match': '*' }, '/sda/1/a/c/missing')).status, 412)
  })

  /** Flips one body byte of the object's .data file on disk. */
  function flipByte(obj: string, at: number): string {
    const h = hashPath(HASH_CFG, 'a', 'c', obj)
    const dir = join(env.root, 'sda', 'objects', '1', h.slice(-3), h)
    const file = join(dir, readdirSync(dir).find((f) => f.endsWith('.data')) as string)
    const fd = openSync(file, 'r+')
    const prefix = Buffer.alloc(8)
    readSync(fd, prefix, 0, 8, 0)
    const pos = 24 + prefix.readUInt32BE(4) + at
    const b = Buffer.alloc(1)
    readSync(fd, b, 0, 1, pos)
    b[0] ^= 0x01
    writeSync(fd, b, 0, 1, pos)
    closeSync(fd)
    return h
  }

  it('quarantines a small object with a flipped byte: 404, file moved to quarantined/', async () => {
    await call(srv, putCall('/sda/1/a/c/rot-small', 'some small body'))
    const h = flipByte('rot-small', 3)
    const r = await get({}, '/sda/1/a/c/rot-small')
    assert.equal(r.status, 404)
    assert.ok(existsSync(join(env.root, 'sda', 'quarantined', 'objects', h)))
    assert.equal((await get({}, '/sda/1/a/c/rot-small')).status, 404)
  })

  it('aborts a streamed GET of a corrupt large object and quarantines it', async () => {
    const big = Buffer.alloc(2 * 1024 * 1024 + 5, 0x61)
    await call(srv, putCall('/sda/1/a/c/rot-big', big))
    const h = flipByte('rot-big', big.length - 2)
    const r = await callBackend(srv, { method: 'GET', path: '/sda/1/a/c/rot-big' })
    assert.equal(r.status, 200)
    let received = 0
    await assert.rejects(async () => {
      for await (const c of r.body as AsyncIterable<Buffer>) received += c.length
    }, /verification/)
    assert.ok(received < big.length, 'the final bytes are held back')
    assert.ok(existsSync(join(env.root, 'sda', 'quarantined', 'objects', h)))
    assert.equal((await get({}, '/sda/1/a/c/rot-big')).status, 404)
  })

  it('range reads are served without whole-object verification', async () => {
    const big = Buffer.alloc(200_000, 0x62)
    await call(srv, putCall('/sda/1/a/c/rot-range', big))
    flipByte('rot-range', 150_000)
    const r = await get({ range: 'bytes=0-9' }, '/sda/1/a/c/rot-range')
    assert.equal(r.status, 206)
    assert.equal(r.text, 'bbbbbbbbbb')
  })

  it('quarantines a .data whose size disagrees with its Content-Length', async () => {
    await call(srv, putCall('/sda/1/a/c/trunc', Buffer.alloc(100_000, 1)))
    const h = hashPath(HASH_CFG, 'a', 'c', 'trunc')
    const dir = join(env.root, 'sda', 'objects', '1', h.slice(-3), h)
    truncateSync(join(dir, readdirSync(dir)[0]), 90_000)
    assert.equal((await get({}, '/sda/1/a/c/trunc')).status, 404)
    assert.ok(existsSync(join(env.root, 'sda', 'quarantined', 'objects', h)))
  })

  it('reads a whole body through the stream path intact', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024)
    for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff
    await call(srv, putCall('/sda/1/a/c/intact', big))
    const r = await callBackend(srv, { method: 'GET', path: '/sda/1/a/c/intact' })
    assert.ok((await readBody(r)).equals(big))
  })
})
