import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { splitQuoted } from './api/list-query.ts'
import { defaultImageConfig } from './config.ts'
import { ImageSchemas } from './image-schema.ts'
import { decodePointer, parsePatch } from './patch.ts'

describe('JSON patch parsing', () => {
  const schemas = new ImageSchemas(defaultImageConfig)

  test('pointers: escapes decoded, malformed ones refused', () => {
    assert.deepEqual(decodePointer('/name'), ['name'])
    assert.deepEqual(decodePointer('/a~1b~0c'), ['a/b~c'])
    assert.deepEqual(decodePointer('/locations/-'), ['locations', '-'])
    for (const p of ['name', '/a//b', '/a/', '/~2', '/a~']) assert.throws(() => decodePointer(p), { status: 400 }, p)
  })

  test('both dialects parse to the same changes', () => {
    const d10 = parsePatch([{ op: 'replace', path: '/name', value: 'x' }, { op: 'remove', path: '/k' }], 10, schemas)
    const d4 = parsePatch([{ replace: '/name', value: 'x' }, { remove: '/k' }], 4, schemas)
    assert.deepEqual(d10.map(({ draft: _d, ...c }) => c), d4.map(({ draft: _d, ...c }) => c))
    assert.throws(() => parsePatch([{ replace: '/a', remove: '/b' }], 4, schemas), /only one member/)
    assert.throws(() => parsePatch([{ path: '/a' }], 10, schemas), /Unable to find `op`/)
  })
})

describe('list filter values', () => {
  test('in: lists split on commas, quotes keep commas', () => {
    assert.deepEqual(splitQuoted('a,b'), ['a', 'b'])
    assert.deepEqual(splitQuoted('"a,b",c'), ['a,b', 'c'])
    assert.throws(() => splitQuoted('"a'), /quote is not closed/)
    assert.throws(() => splitQuoted('x"a"'), /no comma before/)
  })
})
