import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Timestamp } from '../ring/timestamp.ts'
import { SwiftError } from './errors.ts'
import { hiddenQuery, mergeVersions, parseParams, rewriteLinkRows } from './object-versioning-listing.ts'
import {
  invertTimestamp, legacyVersionName, legacyVersionsPrefix, parseVersionObjectName, reservedName, splitReservedName,
  splitVersionsContainerName, validateVersion, versionObjectName, versionsContainerName,
} from './object-versioning-names.ts'

describe('object versioning names', () => {
  it('builds reserved names as Swift does', () => {
    assert.equal(reservedName('versions', 'c'), '\u0000versions\u0000c')
    assert.equal(versionsContainerName('photos'), '\u0000versions\u0000photos')
    assert.deepEqual(splitReservedName('\u0000a\u0000b'), ['a', 'b'])
    assert.equal(splitReservedName('plain'), undefined)
    assert.equal(splitVersionsContainerName('\u0000versions\u0000photos'), 'photos')
    assert.equal(splitVersionsContainerName('photos'), 'photos')
    assert.throws(() => reservedName('a\u0000b'))
  })

  it('inverts timestamps so newer versions sort first', () => {
    assert.equal(invertTimestamp(new Timestamp('1700000000.12345')).internal, '8299999999.87654')
    assert.equal(invertTimestamp(invertTimestamp(new Timestamp('1.5'))).internal, '0000000001.50000')
    assert.throws(() => invertTimestamp(new Timestamp('1.5', { offset: 1 })))
    const older = versionObjectName('o', '1700000000.00000')
    const newer = versionObjectName('o', '1700000001.00000')
    assert.ok(newer < older)
    assert.equal(older, '\u0000o\u00008299999999.99999')
    assert.deepEqual(parseVersionObjectName(older), { name: 'o', versionId: '1700000000.00000' })
    assert.deepEqual(parseVersionObjectName('o'), { name: 'o', versionId: null })
  })

  it('validates version ids', () => {
    validateVersion('null')
    validateVersion('1700000000.12345')
    assert.throws(() => validateVersion('null', false), (e: unknown) => e instanceof SwiftError && e.status === 400)
    assert.throws(() => validateVersion('x'), (e: unknown) => e instanceof SwiftError && e.status === 400)
    assert.throws(() => validateVersion('1.00000_0000000000000001'), (e: unknown) => e instanceof SwiftError && e.status === 400)
  })

  it('names legacy archives by the UTF-8 length of the object name', () => {
    assert.equal(legacyVersionsPrefix('obj'), '003obj/')
    assert.equal(legacyVersionsPrefix('é'), '002é/')
    assert.equal(legacyVersionName('a/b', new Timestamp('1700000000.5')), '003a/b/1700000000.50000')
  })
})

describe('object versioning listings', () => {
  const place = { account: 'AUTH_a', container: 'c', versionsCont: versionsContainerName('c'), apiVersion: 'v1' }

  it('parses hash parameters', () => {
    assert.deepEqual(parseParams('abc; s3_etag=x-2; slo_etag=y'), { value: 'abc', params: [['s3_etag', 'x-2'], ['slo_etag', 'y']] })
  })

  it('shows links as their versions', () => {
    const target = encodeURIComponent(`${place.versionsCont}/${versionObjectName('o', '1700000000.00000')}`).replace(/%2F/g, '/')
    const rows = [{ bytes: 0, hash: `d41d8cd98f00b204e9800998ecf8427e; s3_etag=e-2; symlink_target=${target}; symlink_target_etag=abc; symlink_target_bytes=12`,
      name: 'o', content_type: 'text/plain', last_modified: '2023-11-14T22:13:20.000000' }, { subdir: 'd/' }]
    rewriteLinkRows(rows, place, false)
    assert.deepEqual(rows[0], { bytes: 12, hash: 'abc; s3_etag=e-2', name: 'o', content_type: 'text/plain',
      last_modified: '2023-11-14T22:13:20.000000', symlink_path: '/v1/AUTH_a/c/o?version-id=1700000000.00000', version_symlink: true })
  })

  it('maps markers to hidden listing markers', () => {
    assert.deepEqual(hiddenQuery({ reverse: false, limit: 5, marker: 'o' }), { marker: '\u0000o\u0000:', limit: '5' })
    assert.deepEqual(hiddenQuery({ reverse: true, limit: 5, marker: 'o', versionMarker: 'null', prefix: 'p' }),
      { marker: '\u0000o\u0000', prefix: '\u0000p', reverse: 'true', limit: '5' })
    assert.equal(hiddenQuery({ reverse: false, limit: 1, marker: 'o', versionMarker: '1700000000.00000' }).marker,
      versionObjectName('o', '1700000000.00000'))
    assert.throws(() => hiddenQuery({ reverse: false, limit: 1, versionMarker: '1' }), /requires marker/)
    assert.throws(() => hiddenQuery({ reverse: false, limit: 1, delimiter: '.' }), /delimiter/)
  })

  it('merges the null version, versions and delete markers with is_latest', () => {
    const hiddenRow = (name: string, v: string, ct = 'text/plain') =>
      ({ bytes: 1, hash: 'h', name: versionObjectName(name, v), content_type: ct, last_modified: 'x' })
    const linkPath = `/v1/AUTH_a/${place.versionsCont}/${versionObjectName('b', '0000000003.00000')}`
    const primary = [
      { bytes: 1, hash: 'h', name: 'a', content_type: 'text/plain', last_modified: 'x' },
      { bytes: 1, hash: 'h', name: 'b', content_type: 'text/plain', last_modified: 'x', symlink_path: linkPath, version_symlink: true },
    ]
    const hidden = [hiddenRow('a', '0000000002.00000'), hiddenRow('b', '0000000003.00000'), hiddenRow('b', '0000000001.00000'),
      hiddenRow('c', '0000000005.00000', 'application/x-deleted;swift_versions_deleted=1'), hiddenRow('c', '0000000004.00000')]
    const out = mergeVersions(primary, hidden, place, { reverse: false, limit: 100 })
    assert.deepEqual(out.map((r) => [r.name, r.version_id, r.is_latest]), [
      ['a', 'null', true], ['a', '0000000002.00000', false], ['b', '0000000003.00000', true], ['b', '0000000001.00000', false],
      ['c', '0000000005.00000', true], ['c', '0000000004.00000', false]])
    assert.deepEqual(mergeVersions(primary, hidden, place, { reverse: true, limit: 3 }).map((r) => [r.name, r.version_id]),
      [['c', '0000000005.00000'], ['c', '0000000004.00000'], ['b', '0000000003.00000']])
    // Without a versions container, links still list their versions.
    assert.deepEqual(mergeVersions(primary, undefined, place, { reverse: false, limit: 100 }).map((r) => [r.name, r.version_id, r.is_latest]),
      [['a', 'null', true], ['b', '0000000003.00000', true]])
  })
})
