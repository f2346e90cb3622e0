import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { DbError } from './db-broker.ts'
import {
  accountToXml, containerEntry, containerToXml, listingContentType, listingToText, objectEntry, pyJsonDumps,
  renderAccountListing, renderContainerListing, type ContainerEntry, type ObjectEntry, type SubdirEntry,
} from './listing.ts'

// Expected strings below were produced by Swift's own listing_formats code (container_to_xml,
// account_to_xml) and Python's json.dumps on the same records.
const OBJS: Array<ObjectEntry | SubdirEntry> = [
  { bytes: 12, hash: 'd41d8cd98f00b204e9800998ecf8427e', name: 'a&b <c>"\u00e9', content_type: 'text/plain;charset=utf-8',
    last_modified: '2023-11-14T22:13:20.123450' },
  { subdir: 'd"ir/\n' },
  { bytes: 0, hash: 'x', name: 'empty-type', content_type: '', last_modified: '1970-01-01T00:00:00.000000' },
]
const CONTS: Array<ContainerEntry | SubdirEntry> = [
  { name: 'c1', count: 3, bytes: 30, last_modified: '2023-11-14T22:13:20.000000', storage_policy: 'gold' },
  { subdir: 'c<2' },
  { name: '\u00e9t\u00e9', count: 0, bytes: 0, last_modified: '2023-11-14T22:13:21.000010' },
]

describe('listing renderings', () => {
  it('container XML as Swift', () => {
    assert.equal(containerToXml(OBJS, 'co&n"t'), '<?xml version="1.0" encoding="UTF-8"?>\n<container name="co&amp;n&quot;t">' +
      '<object><name>a&amp;b &lt;c&gt;"\u00e9</name><hash>d41d8cd98f00b204e9800998ecf8427e</hash><bytes>12</bytes>' +
      '<content_type>text/plain;charset=utf-8</content_type><last_modified>2023-11-14T22:13:20.123450</last_modified>' +
      '</object><subdir name="d&quot;ir/&#10;"><name>d"ir/\n</name></subdir><object><name>empty-type</name><hash>x</hash>' +
      '<bytes>0</bytes><content_type /><last_modified>1970-01-01T00:00:00.000000</last_modified></object></container>')
    assert.equal(containerToXml([], 'c'), '<?xml version="1.0" encoding="UTF-8"?>\n<container name="c" />')
  })
  it('account XML as Swift (one entry per line)', () => {
    assert.equal(accountToXml(CONTS, 'AUTH_t\u00e9st'), '<?xml version="1.0" encoding="UTF-8"?>\n<account name="AUTH_t\u00e9st">\n' +
      '<container><name>c1</name><count>3</count><bytes>30</bytes><last_modified>2023-11-14T22:13:20.000000</last_modified>' +
      '<storage_policy>gold</storage_policy></container>\n<subdir name="c&lt;2" />\n<container><name>\u00e9t\u00e9</name>' +
      '<count>0</count><bytes>0</bytes><last_modified>2023-11-14T22:13:21.000010</last_modified></container>\n</account>')
    assert.equal(accountToXml([], 'a'), '<?xml version="1.0" encoding="UTF-8"?>\n<account name="a">\n</account>')
  })
  it('JSON as Python\'s json.dumps (key order, spacing, \\u escapes)', () => {
    assert.equal(pyJsonDumps(OBJS), '[{"bytes": 12, "hash": "d41d8cd98f00b204e9800998ecf8427e", "name": "a&b <c>\\"\\u00e9", ' +
      '"content_type": "text/plain;charset=utf-8", "last_modified": "2023-11-14T22:13:20.123450"}, {"subdir": "d\\"ir/\\n"}, ' +
      '{"bytes": 0, "hash": "x", "name": "empty-type", "content_type": "", "last_modified": "1970-01-01T00:00:00.000000"}]')
    assert.equal(pyJsonDumps(CONTS), '[{"name": "c1", "count": 3, "bytes": 30, "last_modified": "2023-11-14T22:13:20.000000", ' +
      '"storage_policy": "gold"}, {"subdir": "c<2"}, {"name": "\\u00e9t\\u00e9", "count": 0, "bytes": 0, ' +
      '"last_modified": "2023-11-14T22:13:21.000010"}]')
    assert.equal(pyJsonDumps([{ name: '\u007f\ud800\u{1F600}/\u001f' }]), '[{"name": "\\u007f\\ud800\\ud83d\\ude00/\\u001f"}]')
    assert.equal(pyJsonDumps([]), '[]')
  })
  it('plain text: one name per line, empty for nothing', () => {
    assert.equal(listingToText(OBJS as Array<{ name: string } | SubdirEntry>), 'a&b <c>"\u00e9\nd"ir/\n\nempty-type\n')
    assert.equal(listingToText([]), '')
    assert.equal(renderContainerListing([], 'c', 'text/plain').length, 0)
    assert.equal(renderContainerListing([], 'c', 'application/json').toString(), '[]')
    assert.equal(renderAccountListing(CONTS, 'a', 'text/xml').toString('utf8'), accountToXml(CONTS, 'a'))
    assert.equal(renderContainerListing(OBJS, 'c', 'application/json').toString('latin1'), pyJsonDumps(OBJS))
  })
})

describe('listing entries', () => {
  it('objects: swift_bytes overrides bytes and leaves the content type; ISO time with microseconds', () => {
    assert.deepEqual(objectEntry({ name: 'm', created_at: '1700000000.12345', size: 100, etag: 'e',
      content_type: 'application/json; swift_bytes=5000; charset=x' }),
    { bytes: 5000, hash: 'e', name: 'm', content_type: 'application/json;charset=x', last_modified: '2023-11-14T22:13:20.123450' })
    assert.equal(Object.keys(objectEntry({ name: 'n', created_at: '1', size: 1, etag: 'e', content_type: 'a/b' })).join(),
      'bytes,hash,name,content_type,last_modified')
    assert.equal(objectEntry({ name: 'n', created_at: '1700000000.00000_0000000000000003', size: 1, etag: 'e',
      content_type: 'a/b; swift_bytes=bad' }).bytes, 1)
  })
  it('containers: storage_policy only when the policy is known', () => {
    assert.deepEqual(containerEntry({ name: 'c', object_count: 2, bytes_used: 9, put_timestamp: '1700000000.00001' }, 'gold'),
      { name: 'c', count: 2, bytes: 9, last_modified: '2023-11-14T22:13:20.000010', storage_policy: 'gold' })
    assert.equal('storage_policy' in containerEntry({ name: 'c', object_count: 0, bytes_used: 0, put_timestamp: '1' }), false)
  })
})

describe('listingContentType', () => {
  const q = (s = '') => new URLSearchParams(s)
  it('follows format= first, then Accept, as swob', () => {
    assert.equal(listingContentType(q()), 'text/plain')
    assert.equal(listingContentType(q(), 'application/json'), 'application/json')
    assert.equal(listingContentType(q(), '*/*'), 'text/plain')
    assert.equal(listingContentType(q(), 'application/*'), 'application/json')
    assert.equal(listingContentType(q(), 'text/*;q=0.5, application/xml'), 'application/xml')
    assert.equal(listingContentType(q(), 'application/json;q=0.2, text/xml;q=0.2'), 'application/json')
    assert.equal(listingContentType(q(), '*/*;q=0.9, text/xml'), 'text/xml')
    assert.equal(listingContentType(q(), 'application/json; charset=utf-8'), 'application/json')
    assert.equal(listingContentType(q('format=json'), 'text/xml'), 'application/json')
    assert.equal(listingContentType(q('format=XML')), 'application/xml')
    assert.equal(listingContentType(q('format=bogus'), 'application/json'), 'text/plain')
  })
  it('406 when nothing offered is acceptable, 400 for a malformed Accept', () => {
    const status = (n: number) => (e: unknown) => e instanceof DbError && e.status === n
    assert.throws(() => listingContentType(q(), 'image/png'), status(406))
    assert.throws(() => listingContentType(q(), 'garbage'), status(400))
    assert.throws(() => listingContentType(q(), 'text/plain;q=x'), status(400))
    assert.throws(() => listingContentType(q(), 'text/plain;q=1;q=0.5'), status(400))
  })
})
