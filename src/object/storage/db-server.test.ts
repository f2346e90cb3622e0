import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { DbError } from './db-broker.ts'
import { bumpLast, cmpNames } from './db-listing.ts'
import { policyTools } from './db-server-setup.ts'
import {
  DeviceChecker, errorResponse, listParams, metadataFromHeaders, readJsonBody, requireTimestamp, splitPath,
} from './db-server.ts'
import { compareTimestamps, decodeTimestamps, encodeTimestamps, normalizeTimestamp, parseTs } from './db-timestamp.ts'

const status = (n: number) => (e: unknown) => e instanceof DbError && e.status === n

describe('splitPath (Swift split_path; expectations from Swift)', () => {
  it('splits and validates like Swift', () => {
    assert.deepEqual(splitPath('/d/p/a/c', 4, 5, true), ['d', 'p', 'a', 'c', undefined])
    assert.deepEqual(splitPath('/d/p/a/c/o/x/', 4, 5, true), ['d', 'p', 'a', 'c', 'o/x/'])
    assert.deepEqual(splitPath('/d/p/a/c/', 4, 5, true), ['d', 'p', 'a', 'c', ''])
    assert.deepEqual(splitPath('/d/p/a', 3, 4), ['d', 'p', 'a', undefined])
    assert.deepEqual(splitPath('/d/p/a/', 3, 4), ['d', 'p', 'a', ''])
    assert.deepEqual(splitPath('/d/p/a/c/', 3, 4), ['d', 'p', 'a', 'c'])
    assert.deepEqual(splitPath('/d/p/a/', 3, 3), ['d', 'p', 'a'])
    for (const [p, min, max, rest] of [['/d/p/a', 4, 5, true], ['/d/p/a/c/x', 3, 4, false], ['/d/p/a//', 3, 3, false],
      ['d/p/a', 3, 3, false], ['/d/p//c', 3, 4, false], ['/../p/a', 3, 3, false]] as const) {
      assert.throws(() => splitPath(p, min, max, rest), status(400), p)
    }
  })
  it('decodes percent-encoding, 412 for invalid UTF-8', () => {
    assert.deepEqual(splitPath('/d/p/a/c/%C3%A9%2Fx', 4, 5, true), ['d', 'p', 'a', 'c', '\u00e9/x'])
    assert.throws(() => splitPath('/d/p/a/%C3', 3, 4), status(412))
  })
})

describe('request helpers', () => {
  it('requireTimestamp normalizes, 400 when missing or invalid', () => {
    assert.equal(requireTimestamp({ 'x-timestamp': '1700000000.5' }), '1700000000.50000')
    assert.equal(requireTimestamp({ 'x-timestamp': '1700000000.00000_000000000000000a' }), '1700000000.00000_000000000000000a')
    assert.throws(() => requireTimestamp({}), status(400))
    assert.throws(() => requireTimestamp({ 'x-timestamp': '-1' }), status(400))
    assert.throws(() => requireTimestamp({ 'x-timestamp': '1_xyz' }), status(400))
  })
  it('listParams: defaults, 412 past the limit, non-digit limits ignored', () => {
    assert.deepEqual(listParams(new URLSearchParams('')), { limit: 10000, marker: undefined, endMarker: undefined,
      prefix: undefined, delimiter: undefined, path: undefined, reverse: false })
    const p = listParams(new URLSearchParams('limit=5&marker=m&end_marker=e&prefix=&delimiter=/&reverse=yes'))
    assert.deepEqual([p.limit, p.marker, p.endMarker, p.prefix, p.delimiter, p.reverse], [5, 'm', 'e', '', '/', true])
    assert.equal(listParams(new URLSearchParams('limit=-3')).limit, 10000)
    assert.throws(() => listParams(new URLSearchParams('limit=10001')), status(412))
  })
  it('metadataFromHeaders keeps meta, sysmeta and saved headers, title-cased, and honours X-Remove-*', () => {
    const md = metadataFromHeaders({ 'x-container-meta-color': 'red', 'x-container-meta-': 'too short',
      'x-container-sysmeta-a_b': 's', 'x-container-read': 'r', 'x-remove-container-meta-gone': '1',
      'x-remove-container-meta-color': '1', 'x-object-meta-no': 'n', 'content-type': 'x' }, 'container', 'TS', ['x-container-read'])
    assert.deepEqual(md, { 'X-Container-Meta-Color': ['red', 'TS'], 'X-Container-Sysmeta-A_B': ['s', 'TS'],
      'X-Container-Read': ['r', 'TS'], 'X-Container-Meta-Gone': ['', 'TS'] })
  })
  it('policyTools validates indexes against the configured policies', () => {
    const p = policyTools([{ index: 0, name: 'Policy-0' }, { index: 2, name: 'ec', isDefault: true }])
    assert.equal(p.requested({}), undefined)
    assert.equal(p.requested({ 'x-backend-storage-policy-index': '2' }), 2)
    assert.throws(() => p.requested({ 'x-backend-storage-policy-index': '1' }), status(400))
    assert.throws(() => p.requested({ 'x-backend-storage-policy-index': 'x' }), status(400))
    assert.equal(p.defaultFromHeader({}), 2)
    assert.equal(p.name(2), 'ec')
    assert.equal(p.name(9), undefined)
  })
  it('readJsonBody parses, 400 for bad JSON, 413 past the limit', async () => {
    const body = (s: string) => Readable.from([Buffer.from(s)])
    assert.deepEqual(await readJsonBody(body('["sync", 1]')), ['sync', 1])
    await assert.rejects(readJsonBody(body('[')), status(400))
    await assert.rejects(readJsonBody(body('[1,2,3]'), 3), status(413))
    await assert.rejects(readJsonBody(undefined), status(400))
  })
  it('errorResponse maps DbError, full disks and bugs', () => {
    const logged: unknown[] = []
    const logger = { error: (o: object) => { logged.push(o) }, warn: () => {}, info: () => {}, debug: () => {} }
    const req = { method: 'GET', path: '/x' }
    assert.equal(errorResponse(new DbError(409, 'no'), logger, req).status, 409)
    assert.equal(errorResponse(Object.assign(new Error('full'), { code: 'SQLITE_FULL' }), logger, req).status, 507)
    assert.equal(errorResponse(new TypeError('bug'), logger, req).status, 500)
    assert.equal(logged.length, 2)
  })
})

describe('DeviceChecker', () => {
  let root: string
  before(() => { root = mkdtempSync(join(tmpdir(), 'cumulo-dev-')); mkdirSync(join(root, 'sda')) })
  after(() => rmSync(root, { recursive: true, force: true }))
  it('accepts a device directory, 507 for a missing one or an unmounted one under mountCheck', () => {
    new DeviceChecker(root).check('sda')
    assert.throws(() => new DeviceChecker(root).check('sdb'), status(507))
    assert.throws(() => new DeviceChecker(root, true).check('sda'), status(507)) // a plain directory is no mount
  })
})

describe('listing name order and timestamps', () => {
  it('cmpNames orders by code point (SQLite on UTF-8), unlike JS <', () => {
    assert.ok('\u{1F600}' < '\uff46') // UTF-16 order
    assert.equal(cmpNames('\u{1F600}', '\uff46'), 1) // code point order
    assert.equal(cmpNames('a', 'ab'), -1)
    assert.equal(cmpNames('b', 'b'), 0)
  })
  it('bumpLast gives the next code point of the last character', () => {
    assert.equal(bumpLast('a/'), 'a0')
    assert.equal(bumpLast('x\u{1F600}'), 'x\u{1F601}')
    assert.equal(bumpLast('\ud7ff'), '\ue000')
  })
  it('timestamps compare and encode as Swift', () => {
    assert.equal(compareTimestamps('0', '0000000000.00000'), 0)
    assert.equal(compareTimestamps('1700000000.00000', '1700000000.00000_0000000000000001'), -1)
    assert.equal(compareTimestamps('1700000001.00000', '1700000000.99999'), 1)
    assert.equal(normalizeTimestamp('1'), '0000000001.00000')
    const enc = encodeTimestamps(parseTs('1700000000.00000'), parseTs('1700000001.00000'), parseTs('1700000003.00000'))
    assert.equal(enc, '1700000000.00000+186a0+30d40')
    assert.deepEqual(decodeTimestamps(enc).map((t) => t.internal), ['1700000000.00000', '1700000001.00000', '1700000003.00000'])
    assert.deepEqual(decodeTimestamps('1700000000.00000').map((t) => t.internal), Array(3).fill('1700000000.00000'))
  })
})
