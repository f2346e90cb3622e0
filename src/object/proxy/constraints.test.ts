import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CONSTRAINTS, checkDeleteHeaders, checkListingParams, checkMetadata, checkNameLength, checkObjectCreation, messageLength } from './constraints.ts'
import { SwiftError } from './errors.ts'

/** Runs `f` and returns the SwiftError status and text it threw (or null). */
function fails(f: () => unknown): [number, string] | null {
  try { f(); return null } catch (err) {
    assert.ok(err instanceof SwiftError, `not a SwiftError: ${err}`)
    return [err.status, err.body.toString()]
  }
}

describe('constraints', () => {
  it('metadata limits: name length, value length, count, overall size, empty name, header size', () => {
    const cases: Array<[Record<string, string>, [number, RegExp] | null]> = [
      [{ 'x-object-meta-color': 'blue' }, null],
      [{ ['x-object-meta-' + 'n'.repeat(128)]: 'v' }, null],
      [{ ['x-object-meta-' + 'n'.repeat(129)]: 'v' }, [400, /Metadata name too long/]],
      [{ 'x-object-meta-k': 'v'.repeat(256) }, null],
      [{ 'x-object-meta-k': 'v'.repeat(257) }, [400, /Metadata value longer than 256/]],
      [Object.fromEntries(Array.from({ length: 90 }, (_, i) => [`x-object-meta-k${i}`, 'v'])), null],
      [Object.fromEntries(Array.from({ length: 91 }, (_, i) => [`x-object-meta-k${i}`, 'v'])), [400, /Too many metadata items; max 90/]],
      [Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`x-object-meta-k${String(i).padStart(2, '0')}`, 'v'.repeat(240)])),
        [400, /Total metadata too large; max 4096/]],
      [{ 'x-object-meta-': 'v' }, [400, /Metadata name cannot be empty/]],
      [{ 'x-anything': 'v'.repeat(8193) }, [400, /Header value too long/]],
      [{ 'x-container-meta-k': 'v'.repeat(300) }, null], // other types' metadata is not counted
    ]
    for (const [headers, want] of cases) {
      const got = fails(() => checkMetadata(headers, 'object'))
      if (!want) assert.equal(got, null, JSON.stringify(Object.keys(headers)).slice(0, 80))
      else { assert.equal(got?.[0], want[0]); assert.match(got![1], want[1]) }
    }
    assert.equal(fails(() => checkMetadata({ 'x-container-meta-k': 'v'.repeat(257) }, 'container'))?.[0], 400)
  })

  it('names: account and container at most 256 bytes; object at most 1024', () => {
    assert.equal(fails(() => checkNameLength('Container', 'c'.repeat(256))), null)
    assert.deepEqual(fails(() => checkNameLength('Container', 'c'.repeat(257))), [400, 'Container name length of 257 longer than 256'])
    assert.equal(fails(() => checkNameLength('Account', 'é'.repeat(129)))?.[0], 400) // 258 bytes
    const h = () => ({ 'content-type': 'text/plain' })
    assert.equal(fails(() => checkObjectCreation(h(), 'o'.repeat(1024), 1e9)), null)
    assert.deepEqual(fails(() => checkObjectCreation(h(), 'o'.repeat(1025), 1e9)), [400, 'Object name length of 1025 longer than 1024'])
    assert.deepEqual(fails(() => checkObjectCreation({}, 'o', 1e9)), [400, 'No content type'])
    assert.equal(fails(() => checkObjectCreation({ 'content-type': 'a/b;swift_bytes=3' }, 'o', 1e9))?.[0], 400)
  })

  it('message length: 411 without length or chunked, 413 past 5 GiB, 400 for garbage, 501 for other codings', () => {
    assert.equal(messageLength({ 'content-length': '10' }), 10)
    assert.equal(messageLength({ 'transfer-encoding': 'chunked' }), undefined)
    assert.equal(fails(() => messageLength({}))?.[0], 411)
    assert.equal(fails(() => messageLength({ 'content-length': String(CONSTRAINTS.max_file_size) })), null)
    assert.equal(fails(() => messageLength({ 'content-length': String(CONSTRAINTS.max_file_size + 1) }))?.[0], 413)
    assert.equal(fails(() => messageLength({ 'content-length': 'ten' }))?.[0], 400)
    assert.equal(fails(() => messageLength({ 'transfer-encoding': 'gzip' }))?.[0], 501)
  })

  it('X-Delete-After becomes X-Delete-At; past or non-integer values are 400', () => {
    const h: Record<string, string> = { 'x-delete-after': '60' }
    checkDeleteHeaders(h, 1000.5)
    assert.deepEqual(h, { 'x-delete-at': '1060' })
    assert.deepEqual(fails(() => checkDeleteHeaders({ 'x-delete-after': '0' }, 1000)), [400, 'X-Delete-After in past'])
    assert.deepEqual(fails(() => checkDeleteHeaders({ 'x-delete-after': 'soon' }, 1000)), [400, 'Non-integer X-Delete-After'])
    assert.deepEqual(fails(() => checkDeleteHeaders({ 'x-delete-at': '999' }, 1000)), [400, 'X-Delete-At in past'])
    assert.deepEqual(fails(() => checkDeleteHeaders({ 'x-delete-at': '1e9' }, 1000)), [400, 'Non-integer X-Delete-At'])
  })

  it('listing limit above 10000 is 412', () => {
    assert.equal(fails(() => checkListingParams(new URLSearchParams('limit=10000'), 10000)), null)
    assert.deepEqual(fails(() => checkListingParams(new URLSearchParams('limit=10001'), 10000)), [412, 'Maximum limit is 10000'])
    assert.equal(fails(() => checkListingParams(new URLSearchParams('limit=-1'), 10000))?.[0], 412)
  })
})
