// The request → operation table: path style and virtual-host style, every operation served, the
// sub-resources answered with NotImplemented, and the malformed parameters S3 refuses.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { S3Error } from './errors.ts'
import { parseCopySource, parseS3Request, type S3Op } from './parse.ts'

const BASE = 's3.example.com'

/** [description, method, url (path?query), headers, expected operation or error code]. */
type Case = [string, string, string, Record<string, string>, S3Op | string]

const P = 'path'
const cases: Case[] = [
  // service and buckets
  [P, 'GET', '/', {}, { kind: 'ListBuckets' }],
  [P, 'PUT', '/bkt', {}, { kind: 'CreateBucket', bucket: 'bkt' }],
  [P, 'PUT', '/bkt/', {}, { kind: 'CreateBucket', bucket: 'bkt' }],
  [P, 'HEAD', '/bkt', {}, { kind: 'HeadBucket', bucket: 'bkt' }],
  [P, 'DELETE', '/bkt', {}, { kind: 'DeleteBucket', bucket: 'bkt' }],
  [P, 'GET', '/bkt?location', {}, { kind: 'GetBucketLocation', bucket: 'bkt' }],
  [P, 'GET', '/bkt', {}, { kind: 'ListObjects', bucket: 'bkt', prefix: '', marker: '', maxKeys: 1000 }],
  [P, 'GET', '/bkt?prefix=a%2Fb&delimiter=%2F&marker=m&max-keys=5000&encoding-type=url', {},
    { kind: 'ListObjects', bucket: 'bkt', prefix: 'a/b', delimiter: '/', marker: 'm', maxKeys: 1000, encodingType: 'url' }],
  [P, 'GET', '/bkt?list-type=2&continuation-token=abc&start-after=s&fetch-owner=true&max-keys=7', {},
    { kind: 'ListObjectsV2', bucket: 'bkt', prefix: '', maxKeys: 7, fetchOwner: true, continuationToken: 'abc', startAfter: 's' }],
  [P, 'GET', '/bkt?versions&key-marker=k&version-id-marker=null', {},
    { kind: 'ListObjectVersions', bucket: 'bkt', prefix: '', keyMarker: 'k', versionIdMarker: 'null', maxKeys: 1000 }],
  [P, 'GET', '/bkt?uploads&prefix=p&max-uploads=3', {},
    { kind: 'ListMultipartUploads', bucket: 'bkt', prefix: 'p', keyMarker: '', uploadIdMarker: '', maxUploads: 3 }],
  [P, 'GET', '/bkt?acl', {}, { kind: 'GetBucketAcl', bucket: 'bkt' }],
  [P, 'PUT', '/bkt?acl', {}, { kind: 'PutBucketAcl', bucket: 'bkt' }],
  [P, 'GET', '/bkt?cors', {}, { kind: 'GetBucketCors', bucket: 'bkt' }],
  [P, 'PUT', '/bkt?cors', {}, { kind: 'PutBucketCors', bucket: 'bkt' }],
  [P, 'DELETE', '/bkt?cors', {}, { kind: 'DeleteBucketCors', bucket: 'bkt' }],
  [P, 'GET', '/bkt?versioning', {}, { kind: 'GetBucketVersioning', bucket: 'bkt' }],
  [P, 'PUT', '/bkt?versioning', {}, { kind: 'PutBucketVersioning', bucket: 'bkt' }],
  [P, 'POST', '/bkt?delete', {}, { kind: 'DeleteObjects', bucket: 'bkt' }],
  [P, 'OPTIONS', '/bkt', {}, { kind: 'CorsPreflight', bucket: 'bkt' }],
  // objects
  [P, 'PUT', '/bkt/a/b/c.txt', {}, { kind: 'PutObject', bucket: 'bkt', key: 'a/b/c.txt' }],
  [P, 'PUT', '/bkt/with%20space%2Bplus+raw', {}, { kind: 'PutObject', bucket: 'bkt', key: 'with space+plus+raw' }],
  [P, 'PUT', '/bkt//lead', {}, { kind: 'PutObject', bucket: 'bkt', key: '/lead' }],
  [P, 'PUT', '/bkt/k?x-id=PutObject', {}, { kind: 'PutObject', bucket: 'bkt', key: 'k' }],
  [P, 'GET', '/bkt/k', {}, { kind: 'GetObject', bucket: 'bkt', key: 'k', overrides: {} }],
  [P, 'GET', '/bkt/k?versionId=null&response-content-type=text%2Fplain', {},
    { kind: 'GetObject', bucket: 'bkt', key: 'k', overrides: { 'content-type': 'text/plain' }, versionId: 'null' }],
  [P, 'HEAD', '/bkt/k', {}, { kind: 'HeadObject', bucket: 'bkt', key: 'k', overrides: {} }],
  [P, 'DELETE', '/bkt/k', {}, { kind: 'DeleteObject', bucket: 'bkt', key: 'k' }],
  [P, 'PUT', '/bkt/k', { 'x-amz-copy-source': '/src/a%20b?versionId=null' },
    { kind: 'CopyObject', bucket: 'bkt', key: 'k', source: { bucket: 'src', key: 'a b', versionId: 'null' } }],
  [P, 'GET', '/bkt/k?acl', {}, { kind: 'GetObjectAcl', bucket: 'bkt', key: 'k' }],
  [P, 'PUT', '/bkt/k?acl', {}, { kind: 'PutObjectAcl', bucket: 'bkt', key: 'k' }],
  [P, 'OPTIONS', '/bkt/k', {}, { kind: 'CorsPreflight', bucket: 'bkt', key: 'k' }],
  // multipart
  [P, 'POST', '/bkt/k?uploads', {}, { kind: 'CreateMultipartUpload', bucket: 'bkt', key: 'k' }],
  [P, 'PUT', '/bkt/k?partNumber=3&uploadId=u1', {}, { kind: 'UploadPart', bucket: 'bkt', key: 'k', uploadId: 'u1', partNumber: 3 }],
  [P, 'PUT', '/bkt/k?partNumber=10000&uploadId=u1', { 'x-amz-copy-source': 'src/o', 'x-amz-copy-source-range': 'bytes=0-99' },
    { kind: 'UploadPartCopy', bucket: 'bkt', key: 'k', uploadId: 'u1', partNumber: 10000, source: { bucket: 'src', key: 'o' },
      sourceRange: { first: 0, last: 99 } }],
  [P, 'POST', '/bkt/k?uploadId=u1', {}, { kind: 'CompleteMultipartUpload', bucket: 'bkt', key: 'k', uploadId: 'u1' }],
  [P, 'DELETE', '/bkt/k?uploadId=u1', {}, { kind: 'AbortMultipartUpload', bucket: 'bkt', key: 'k', uploadId: 'u1' }],
  [P, 'GET', '/bkt/k?uploadId=u1&max-parts=2&part-number-marker=4', {},
    { kind: 'ListParts', bucket: 'bkt', key: 'k', uploadId: 'u1', maxParts: 2, partNumberMarker: 4 }],
  // virtual-host style
  ['vhost', 'GET', '/', { host: `photos.${BASE}` }, { kind: 'ListObjects', bucket: 'photos', prefix: '', marker: '', maxKeys: 1000 }],
  ['vhost', 'GET', '/a/b', { host: `my.bucket.${BASE}:8080` }, { kind: 'GetObject', bucket: 'my.bucket', key: 'a/b', overrides: {} }],
  ['vhost', 'PUT', '/', { host: `NEW.${BASE}` }, { kind: 'CreateBucket', bucket: 'new' }],
  ['base host is path style', 'GET', '/bkt/k', { host: BASE }, { kind: 'GetObject', bucket: 'bkt', key: 'k', overrides: {} }],
  ['other host is path style', 'GET', '/bkt', { host: 'bkt.elsewhere.com' }, { kind: 'ListObjects', bucket: 'bkt', prefix: '', marker: '', maxKeys: 1000 }],
  // refusals
  [P, 'PUT', '/', {}, 'MethodNotAllowed'],
  [P, 'PATCH', '/bkt/k', {}, 'MethodNotAllowed'],
  [P, 'GET', '/bkt+segments', {}, 'InvalidBucketName'],
  [P, 'GET', '/b%2Fc', {}, 'InvalidBucketName'],
  [P, 'GET', '/bkt/%E0%A4%A', {}, 'InvalidURI'],
  [P, 'PUT', `/bkt/${'k'.repeat(1025)}`, {}, 'KeyTooLongError'],
  [P, 'PUT', '/bkt/a%00b', {}, 'InvalidArgument'],
  [P, 'GET', '/bkt?max-keys=ten', {}, 'InvalidArgument'],
  [P, 'GET', '/bkt?list-type=1', {}, 'InvalidArgument'],
  [P, 'GET', '/bkt?encoding-type=xml', {}, 'InvalidArgument'],
  [P, 'PUT', '/bkt/k?partNumber=0&uploadId=u', {}, 'InvalidArgument'],
  [P, 'PUT', '/bkt/k?partNumber=10001&uploadId=u', {}, 'InvalidArgument'],
  [P, 'PUT', '/bkt/k?partNumber=1', {}, 'InvalidArgument'],
  [P, 'PUT', '/bkt/k', { 'x-amz-copy-source': 'onlybucket' }, 'InvalidArgument'],
  [P, 'PUT', '/bkt/k?partNumber=1&uploadId=u', { 'x-amz-copy-source': 'a/b', 'x-amz-copy-source-range': 'bytes=9-1' }, 'InvalidArgument'],
  // not implemented, named
  [P, 'GET', '/bkt?lifecycle', {}, 'NotImplemented'],
  [P, 'PUT', '/bkt?policy', {}, 'NotImplemented'],
  [P, 'DELETE', '/bkt?website', {}, 'NotImplemented'],
  [P, 'GET', '/bkt/k?tagging', {}, 'NotImplemented'],
  [P, 'GET', '/bkt/k?partNumber=1', {}, 'NotImplemented'],
  [P, 'POST', '/bkt', {}, 'NotImplemented'],
  [P, 'POST', '/bkt/k?restore', {}, 'NotImplemented'],
  [P, 'POST', '/bkt/k', {}, 'NotImplemented'],
]

describe('parseS3Request', () => {
  for (const [what, method, url, headers, expected] of cases) {
    it(`${what}: ${method} ${url.slice(0, 80)}`, () => {
      const qi = url.indexOf('?')
      const run = () => parseS3Request({ method, host: headers.host ?? '127.0.0.1:8080', path: qi < 0 ? url : url.slice(0, qi),
        query: qi < 0 ? '' : url.slice(qi + 1), headers }, { baseDomain: BASE })
      if (typeof expected === 'string') {
        assert.throws(run, (e: unknown) => e instanceof S3Error && e.code === expected && e.message.length > 0)
      } else {
        assert.deepEqual(run(), expected)
      }
    })
  }

  it('names the unsupported operation in its 501 message', () => {
    assert.throws(() => parseS3Request({ method: 'GET', path: '/bkt', query: 'lifecycle', headers: {} }),
      (e: S3Error) => e.status === 501 && /lifecycle/.test(e.message))
  })

  it('parses copy sources with and without the leading slash, encoded', () => {
    assert.deepEqual(parseCopySource('bkt/dir%2Ffile%20name'), { bucket: 'bkt', key: 'dir/file name' })
    assert.deepEqual(parseCopySource('/bkt/k%3Fq?versionId=v1'), { bucket: 'bkt', key: 'k?q', versionId: 'v1' })
  })
})
