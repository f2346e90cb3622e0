// Listings over a real local HTTP server: ListObjects v1 and v2 with prefix, delimiter,
// markers, continuation tokens and url encoding; ListObjectVersions.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { startS3TestServer, xmlText, xmlTexts, type S3TestServer } from './testing.ts'

let srv: S3TestServer
const KEYS = ['a.txt', 'photos/2020/feb.jpg', 'photos/2020/jan.jpg', 'photos/2021/mar.jpg', 'photos/readme', 'videos/x.mp4', 'z']

before(async () => {
  srv = await startS3TestServer()
  const c = srv.client()
  await c.request('PUT', '/lst')
  for (const k of KEYS) assert.equal((await c.request('PUT', `/lst/${k}`, { body: k })).status, 200)
})
after(async () => {
  await srv.close()
  assert.deepEqual(srv.errors, [], 'no request failed with a 500')
})

const get = async (q: string) => {
  const r = await srv.client().request('GET', `/lst?${q}`)
  assert.equal(r.status, 200, r.text)
  return r.text
}
const prefixes = (xml: string) => [...xml.matchAll(/<CommonPrefixes><Prefix>([^<]*)<\/Prefix><\/CommonPrefixes>/g)].map((m) => m[1])

describe('ListObjects (v1)', () => {
  it('lists everything with sizes, ETags and owners', async () => {
    const xml = await get('')
    assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<ListBucketResult xmlns="http:\/\/s3.amazonaws.com\/doc\/2006-03-01\/"><Name>lst<\/Name>/)
    assert.deepEqual(xmlTexts(xml, 'Key'), KEYS)
    assert.equal(xmlText(xml, 'IsTruncated'), 'false')
    assert.equal(xmlText(xml, 'Size'), '5')
    assert.equal(xmlText(xml, 'ETag'), `"${createHash('md5').update('a.txt').digest('hex')}"`)
    assert.match(xml, /<Owner><ID>p-alice<\/ID><DisplayName>p-alice<\/DisplayName><\/Owner><StorageClass>STANDARD<\/StorageClass>/)
  })

  it('pages with max-keys and marker', async () => {
    const p1 = await get('max-keys=2')
    assert.deepEqual(xmlTexts(p1, 'Key'), ['a.txt', 'photos/2020/feb.jpg'])
    assert.equal(xmlText(p1, 'IsTruncated'), 'true')
    assert.equal(xmlText(p1, 'NextMarker'), undefined)
    const p2 = await get('max-keys=5&marker=photos%2F2020%2Ffeb.jpg')
    assert.deepEqual(xmlTexts(p2, 'Key'), KEYS.slice(2))
    assert.equal(xmlText(p2, 'IsTruncated'), 'false')
  })

  it('groups by delimiter and pages across common prefixes', async () => {
    const all = await get('delimiter=%2F')
    assert.deepEqual(xmlTexts(all, 'Key'), ['a.txt', 'z'])
    assert.deepEqual(prefixes(all), ['photos/', 'videos/'])
    const p1 = await get('delimiter=%2F&max-keys=2')
    assert.deepEqual(xmlTexts(p1, 'Key'), ['a.txt'])
    assert.deepEqual(prefixes(p1), ['photos/'])
    assert.equal(xmlText(p1, 'NextMarker'), 'photos/')
    const p2 = await get('delimiter=%2F&max-keys=2&marker=photos%2F')
    assert.deepEqual(prefixes(p2), ['videos/'])
    assert.deepEqual(xmlTexts(p2, 'Key'), ['z'])
    assert.equal(xmlText(p2, 'IsTruncated'), 'false')
  })

  it('combines prefix and delimiter', async () => {
    const xml = await get('prefix=photos%2F&delimiter=%2F')
    assert.deepEqual(prefixes(xml), ['photos/2020/', 'photos/2021/'])
    assert.deepEqual(xmlTexts(xml, 'Key'), ['photos/readme'])
    assert.equal(xmlText(xml, 'Prefix'), 'photos/')
    assert.equal(xmlText(xml, 'Delimiter'), '/')
  })
})

describe('ListObjectsV2', () => {
  it('walks the whole listing one entry at a time with continuation tokens', async () => {
    const seen: string[] = []
    let token: string | undefined
    for (let i = 0; i < 10; i++) {
      const xml = await get(`list-type=2&delimiter=%2F&max-keys=1${token ? `&continuation-token=${encodeURIComponent(token)}` : ''}`)
      assert.equal(xmlText(xml, 'KeyCount'), '1')
      seen.push(...xmlTexts(xml, 'Key'), ...prefixes(xml) as string[])
      if (token) assert.equal(xmlText(xml, 'ContinuationToken'), token)
      token = xmlText(xml, 'NextContinuationToken')
      if (xmlText(xml, 'IsTruncated') === 'false') {
        assert.equal(token, undefined)
        break
      }
    }
    assert.deepEqual(seen, ['a.txt', 'photos/', 'videos/', 'z'])
  })

  it('starts after a key, omits owners unless asked', async () => {
    const xml = await get('list-type=2&start-after=photos%2Freadme')
    assert.deepEqual(xmlTexts(xml, 'Key'), ['videos/x.mp4', 'z'])
    assert.equal(xmlText(xml, 'StartAfter'), 'photos/readme')
    assert.doesNotMatch(xml, /<Owner>/)
    assert.match(await get('list-type=2&fetch-owner=true&max-keys=1'), /<Owner><ID>p-alice<\/ID>/)
  })

  it('url-encodes names with encoding-type=url', async () => {
    await srv.client().request('PUT', '/lst/sp%20ace/%C3%BC%26', { body: 'x' })
    const xml = await get('list-type=2&prefix=sp&encoding-type=url')
    assert.deepEqual(xmlTexts(xml, 'Key'), ['sp%20ace%2F%C3%BC%26'])
    assert.equal(xmlText(xml, 'EncodingType'), 'url')
    const raw = await get('list-type=2&prefix=sp')
    assert.deepEqual(xmlTexts(raw, 'Key'), ['sp ace/ü&amp;'])
    await srv.client().request('DELETE', '/lst/sp%20ace/%C3%BC%26')
  })

  it('max-keys=0 lists nothing; bad parameters are InvalidArgument', async () => {
    const zero = await get('list-type=2&max-keys=0')
    assert.equal(xmlText(zero, 'KeyCount'), '0')
    assert.deepEqual(xmlTexts(zero, 'Key'), [])
    for (const q of ['list-type=2&continuation-token=%25%25', 'max-keys=abc', 'max-keys=-1', 'list-type=3', 'encoding-type=base64']) {
      const r = await srv.client().request('GET', `/lst?${q}`)
      assert.equal(r.status, 400, q)
      assert.equal(xmlText(r.text, 'Code'), 'InvalidArgument', q)
    }
  })
})

describe('ListObjectVersions', () => {
  it('lists each object as its single null version', async () => {
    const xml = await get('versions&prefix=photos%2F2020')
    assert.match(xml, /<ListVersionsResult xmlns=/)
    assert.deepEqual(xmlTexts(xml, 'Key'), ['photos/2020/feb.jpg', 'photos/2020/jan.jpg'])
    assert.deepEqual(xmlTexts(xml, 'VersionId'), ['null', 'null'])
    assert.deepEqual(xmlTexts(xml, 'IsLatest'), ['true', 'true'])
    const page = await get('versions&max-keys=1')
    assert.equal(xmlText(page, 'NextKeyMarker'), 'a.txt')
    assert.equal(xmlText(page, 'NextVersionIdMarker'), 'null')
  })
})
