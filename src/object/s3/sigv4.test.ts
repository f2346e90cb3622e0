// SigV4 against AWS's published values: the aws-sig-v4-test-suite (generic service, AKIDEXAMPLE)
// and S3's documented examples (AKIAIOSFODNN7EXAMPLE): GET object, PUT object, GET bucket
// lifecycle, list objects, presigned URL, and the chunked-upload example, whose chunk signatures
// the decoder must accept. Then the verifier's refusals: wrong secret, altered header, expired
// presign, skew, wrong region, unsigned x-amz-* header, wrong payload hash, bad chunk signature.
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { describe, it } from 'node:test'
import { AwsChunkedDecoder } from './aws-chunked.ts'
import { S3Error } from './errors.ts'
import { parseQuery } from './parse.ts'
import { prepareBody } from './payload.ts'
import { encodeAwsChunked, presignUrl, signChunkedUpload, signRequest } from './sigv4-client.ts'
import { EMPTY_SHA256, STREAMING_SIGNED, canonicalUri, sha256Hex, signingKey } from './sigv4-core.ts'
import { verifySigV4, type CredentialLookup, type VerifyInput } from './sigv4.ts'

const SUITE = { accessKey: 'AKIDEXAMPLE', secret: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', region: 'us-east-1', service: 'service' }
const SUITE_DATE = new Date('2015-08-30T12:36:00Z')
const S3 = { accessKey: 'AKIAIOSFODNN7EXAMPLE', secret: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', region: 'us-east-1' }
const S3_DATE = new Date('2013-05-24T00:00:00Z')
const sig = (authorization: string) => /Signature=([0-9a-f]{64})$/.exec(authorization)![1]

describe('aws-sig-v4-test-suite', () => {
  const cases: Array<[string, string, string, string]> = [
    ['get-vanilla', 'GET', 'https://example.amazonaws.com/', '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31'],
    ['get-vanilla-query-order-key-case', 'GET', 'https://example.amazonaws.com/?Param2=value2&Param1=value1',
      'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500'],
    ['get-utf8', 'GET', 'https://example.amazonaws.com/\u1234', '8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85'],
    ['post-vanilla', 'POST', 'https://example.amazonaws.com/', '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b'],
  ]
  for (const [name, method, url, expected] of cases) {
    it(name, () => {
      const h = signRequest({ method, url, date: SUITE_DATE, omitContentSha256: true }, SUITE)
      assert.equal(h.authorization, `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=${expected}`)
    })
  }
})

describe('S3 documented example signatures', () => {
  const host = 'https://examplebucket.s3.amazonaws.com'
  it('GET object with a range', () => {
    const h = signRequest({ method: 'GET', url: `${host}/test.txt`, headers: { range: 'bytes=0-9' }, date: S3_DATE }, S3)
    assert.match(h.authorization!, /SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,/)
    assert.equal(sig(h.authorization!), 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41')
  })
  it('PUT object (a $ in the key, signed payload)', () => {
    const body = 'Welcome to Amazon S3.'
    assert.equal(sha256Hex(body), '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072')
    const h = signRequest({ method: 'PUT', url: `${host}/test$file.text`, body, date: S3_DATE,
      headers: { date: 'Fri, 24 May 2013 00:00:00 GMT', 'x-amz-storage-class': 'REDUCED_REDUNDANCY' } }, S3)
    assert.equal(sig(h.authorization!), '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd')
    assert.equal(canonicalUri('/test$file.text'), '/test%24file.text')
  })
  it('GET bucket lifecycle (a valueless query parameter)', () => {
    const h = signRequest({ method: 'GET', url: `${host}/?lifecycle`, date: S3_DATE }, S3)
    assert.equal(sig(h.authorization!), 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543')
  })
  it('GET bucket (list objects, query sorted)', () => {
    const h = signRequest({ method: 'GET', url: `${host}/?max-keys=2&prefix=J`, date: S3_DATE }, S3)
    assert.equal(sig(h.authorization!), '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7')
  })
  it('presigned GET URL', () => {
    const url = presignUrl({ method: 'GET', url: `${host}/test.txt`, expires: 86400, date: S3_DATE }, S3)
    assert.equal(url, `${host}/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404`)
  })
  it('chunked upload: seed and chunk signatures', () => {
    const body = Buffer.alloc(66560, 'a')
    const signed = signChunkedUpload({ method: 'PUT', url: 'https://s3.amazonaws.com/examplebucket/chunkObject.txt',
      headers: { 'x-amz-storage-class': 'REDUCED_REDUNDANCY' }, body, chunkSize: 65536, date: S3_DATE }, S3)
    assert.equal(signed.headers['content-length'], '66824')
    assert.equal(sig(signed.headers.authorization!), '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9')
    const text = signed.body.toString('latin1')
    assert.ok(text.startsWith('10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n'))
    assert.ok(text.includes('\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n'))
    assert.ok(text.endsWith('\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n'))
    assert.equal(signed.body.length, 66824)
  })
})

// --- the verifier -------------------------------------------------------------------------

const lookup: CredentialLookup = async (ak) =>
  ak === S3.accessKey ? { secret: S3.secret, projectId: 'p1', userId: 'u1' } : undefined

/** A verifier input from a URL and the headers a client sent. */
function input(method: string, url: string, headers: Record<string, string>): VerifyInput {
  const u = new URL(url)
  const h = new Map<string, string[]>()
  for (const [k, v] of Object.entries(headers)) h.set(k.toLowerCase(), [v])
  const query = u.search.replace(/^\?/, '')
  return { method, path: u.pathname, query, params: parseQuery(query), headers: h }
}

async function rejects(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof S3Error, String(e))
    assert.equal(e.code, code)
    if (message) assert.match(e.message, message)
    return true
  })
}

describe('verifySigV4', () => {
  const opts = { lookup, regions: ['RegionOne', 'us-east-1'], now: S3_DATE }
  const url = 'https://examplebucket.s3.amazonaws.com/test.txt'
  const signedGet = () => signRequest({ method: 'GET', url, headers: { range: 'bytes=0-9' }, date: S3_DATE }, S3)

  it('accepts the documented GET object request', async () => {
    const auth = await verifySigV4(input('GET', url, signedGet()), opts)
    assert.equal(auth.credential.projectId, 'p1')
    assert.deepEqual(auth.payload, { kind: 'sha256', hex: EMPTY_SHA256 })
  })
  it('accepts the documented PUT object request (Date header, raw $ in the path)', async () => {
    const h = signRequest({ method: 'PUT', url: 'https://examplebucket.s3.amazonaws.com/test$file.text',
      body: 'Welcome to Amazon S3.', date: S3_DATE,
      headers: { date: 'Fri, 24 May 2013 00:00:00 GMT', 'x-amz-storage-class': 'REDUCED_REDUNDANCY' } }, S3)
    await verifySigV4(input('PUT', 'https://examplebucket.s3.amazonaws.com/test$file.text', h), opts)
    await verifySigV4(input('PUT', 'https://examplebucket.s3.amazonaws.com/test%24file.text', h), opts)
  })
  it('accepts the documented presigned URL within its lifetime', async () => {
    const p = presignUrl({ method: 'GET', url, expires: 86400, date: S3_DATE }, S3)
    const auth = await verifySigV4(input('GET', p, { host: 'examplebucket.s3.amazonaws.com' }),
      { ...opts, now: new Date(S3_DATE.getTime() + 86399_000) })
    assert.deepEqual(auth.payload, { kind: 'unsigned' })
  })
  it('refuses a wrong secret', async () => {
    const h = signRequest({ method: 'GET', url, date: S3_DATE }, { ...S3, secret: 'not-the-secret' })
    await rejects(verifySigV4(input('GET', url, h), opts), 'SignatureDoesNotMatch')
  })
  it('refuses an altered signed header', async () => {
    const h = { ...signedGet(), range: 'bytes=0-99' }
    await rejects(verifySigV4(input('GET', url, h), opts), 'SignatureDoesNotMatch')
  })
  it('refuses an altered path or query', async () => {
    await rejects(verifySigV4(input('GET', `${url}x`, signedGet()), opts), 'SignatureDoesNotMatch')
    await rejects(verifySigV4(input('GET', `${url}?acl`, signedGet()), opts), 'SignatureDoesNotMatch')
  })
  it('refuses an unknown access key', async () => {
    const h = signRequest({ method: 'GET', url, date: S3_DATE }, { ...S3, accessKey: 'AKIDUNKNOWN' })
    await rejects(verifySigV4(input('GET', url, h), opts), 'InvalidAccessKeyId')
  })
  it('refuses an expired presigned URL', async () => {
    const p = presignUrl({ method: 'GET', url, expires: 60, date: S3_DATE }, S3)
    await rejects(verifySigV4(input('GET', p, { host: 'examplebucket.s3.amazonaws.com' }),
      { ...opts, now: new Date(S3_DATE.getTime() + 61_000) }), 'AccessDenied', /^Request has expired$/)
  })
  it('refuses presigned URLs valid for more than a week', async () => {
    const p = presignUrl({ method: 'GET', url, expires: 604801, date: S3_DATE }, S3)
    await rejects(verifySigV4(input('GET', p, { host: 'examplebucket.s3.amazonaws.com' }), opts), 'AuthorizationQueryParametersError')
  })
  it('refuses a clock skew over 15 minutes', async () => {
    await rejects(verifySigV4(input('GET', url, signedGet()), { ...opts, now: new Date(S3_DATE.getTime() + 16 * 60_000) }),
      'RequestTimeTooSkewed')
    await verifySigV4(input('GET', url, signedGet()), { ...opts, now: new Date(S3_DATE.getTime() + 14 * 60_000) })
  })
  it('refuses a region it does not serve, and accepts the configured one', async () => {
    const h = signRequest({ method: 'GET', url, date: S3_DATE }, { ...S3, region: 'eu-west-1' })
    await rejects(verifySigV4(input('GET', url, h), opts), 'AuthorizationHeaderMalformed', /region 'eu-west-1' is wrong/)
    const ok = signRequest({ method: 'GET', url, date: S3_DATE }, { ...S3, region: 'RegionOne' })
    await verifySigV4(input('GET', url, ok), opts)
  })
  it('refuses x-amz-* headers that were not signed', async () => {
    const h = { ...signedGet(), 'x-amz-acl': 'public-read' }
    await rejects(verifySigV4(input('GET', url, h), opts), 'AccessDenied', /not signed/)
  })
  it('refuses SigV2 with a clear message', async () => {
    await rejects(verifySigV4(input('GET', url, { authorization: 'AWS AKIAIOSFODNN7EXAMPLE:abc', host: 'x' }), opts),
      'InvalidRequest', /AWS4-HMAC-SHA256/)
  })
  it('refuses a malformed x-amz-content-sha256', async () => {
    const h = signRequest({ method: 'GET', url, date: S3_DATE, payloadHash: 'bogus' }, S3)
    await rejects(verifySigV4(input('GET', url, h), opts), 'InvalidArgument')
  })
})

// --- payload verification -----------------------------------------------------------------

/** A fake request stream with headers, as prepareBody takes it. */
function bodyStream(data: Buffer, headers: Record<string, string>) {
  const r = Readable.from([data], { objectMode: false }) as Readable & { headers: Record<string, string> }
  r.headers = headers
  return r
}

async function drain(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of r as AsyncIterable<Buffer>) chunks.push(c)
  return Buffer.concat(chunks)
}

describe('payload', () => {
  const seed = '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9'
  const signing = { signingKey: signingKey(S3.secret, '20130524', 'us-east-1', 's3'), amzDate: '20130524T000000Z',
    scope: '20130524/us-east-1/s3/aws4_request', seedSignature: seed }
  const docBody = () => encodeAwsChunked(Buffer.alloc(66560, 'a'), 65536, signing)

  it('decodes the documented chunked upload', async () => {
    const out = await drain(Readable.from([docBody()]).pipe(new AwsChunkedDecoder({ signing, trailer: false, decodedLength: 66560 })))
    assert.equal(out.length, 66560)
    assert.ok(out.every((b) => b === 0x61))
  })
  it('decodes when the body arrives one byte at a time', async () => {
    const b = docBody()
    const pieces = Array.from({ length: b.length }, (_, i) => b.subarray(i, i + 1))
    const out = await drain(Readable.from(pieces).pipe(new AwsChunkedDecoder({ signing, trailer: false, decodedLength: 66560 })))
    assert.equal(out.length, 66560)
  })
  it('refuses a bad chunk signature', async () => {
    const b = Buffer.from(docBody().toString('latin1').replace('0055627c', '1055627c'), 'latin1')
    await rejects(drain(Readable.from([b]).pipe(new AwsChunkedDecoder({ signing, trailer: false, decodedLength: 66560 }))),
      'SignatureDoesNotMatch')
  })
  it('refuses altered chunk data', async () => {
    const b = docBody()
    b[66000] = 0x62 // inside the second chunk's data
    await rejects(drain(Readable.from([b]).pipe(new AwsChunkedDecoder({ signing, trailer: false, decodedLength: 66560 }))),
      'SignatureDoesNotMatch')
  })
  it('refuses a body shorter than x-amz-decoded-content-length', async () => {
    await rejects(drain(Readable.from([docBody()]).pipe(new AwsChunkedDecoder({ signing, trailer: false, decodedLength: 70000 }))),
      'IncompleteBody')
  })
  it('refuses a wrong x-amz-content-sha256 at the end of the body', async () => {
    const data = Buffer.from('hello world')
    const p = prepareBody(bodyStream(data, { 'content-length': '11' }), { kind: 'sha256', hex: sha256Hex('hello worle') },
      { maxLength: 100, requireLength: true })
    await rejects(drain(p.body), 'XAmzContentSHA256Mismatch')
    const ok = prepareBody(bodyStream(data, { 'content-length': '11' }), { kind: 'sha256', hex: sha256Hex(data) },
      { maxLength: 100, requireLength: true })
    assert.equal((await drain(ok.body)).toString(), 'hello world')
  })
  it('verifies trailing checksums of unsigned and signed streaming uploads', async () => {
    const data = Buffer.from('The quick brown fox')
    const crc = (await import('node:zlib')).crc32(data)
    const value = Buffer.from([crc >>> 24, (crc >>> 16) & 255, (crc >>> 8) & 255, crc & 255]).toString('base64')
    const headers = { 'x-amz-decoded-content-length': String(data.length), 'x-amz-trailer': 'x-amz-checksum-crc32' }
    const good = encodeAwsChunked(data, 8, undefined, { 'x-amz-checksum-crc32': value })
    const p = prepareBody(bodyStream(good, headers), { kind: 'streaming', trailer: true }, { maxLength: 100, requireLength: true })
    assert.equal((await drain(p.body)).toString(), 'The quick brown fox')
    assert.deepEqual(p.checksum(), { header: 'x-amz-checksum-crc32', value })
    const bad = encodeAwsChunked(data, 8, undefined, { 'x-amz-checksum-crc32': 'AAAAAA==' })
    const q = prepareBody(bodyStream(bad, headers), { kind: 'streaming', trailer: true }, { maxLength: 100, requireLength: true })
    await rejects(drain(q.body), 'BadDigest')
    const signed = encodeAwsChunked(data, 8, signing, { 'x-amz-checksum-crc32': value })
    const s = prepareBody(bodyStream(signed, headers), { kind: 'streaming', trailer: true, signing }, { maxLength: 100, requireLength: true })
    assert.equal((await drain(s.body)).toString(), 'The quick brown fox')
    const tampered = Buffer.from(signed.toString('latin1').replace(value, 'AAAAAA=='), 'latin1')
    const t = prepareBody(bodyStream(tampered, headers), { kind: 'streaming', trailer: true, signing }, { maxLength: 100, requireLength: true })
    await rejects(drain(t.body), 'SignatureDoesNotMatch')
  })
  it('needs a length and refuses too large a body before reading it', () => {
    assert.throws(() => prepareBody(bodyStream(Buffer.alloc(0), {}), { kind: 'unsigned' }, { maxLength: 10, requireLength: true }),
      (e: S3Error) => e.code === 'MissingContentLength')
    assert.throws(() => prepareBody(bodyStream(Buffer.alloc(0), { 'content-length': '11' }), { kind: 'unsigned' },
      { maxLength: 10, requireLength: true }), (e: S3Error) => e.code === 'EntityTooLarge')
    assert.throws(() => prepareBody(bodyStream(Buffer.alloc(0), { 'content-length': '0' }),
      { kind: 'streaming', trailer: false, signing }, { maxLength: 10, requireLength: true }),
    (e: S3Error) => e.code === 'MissingContentLength')
  })
  it('the streaming mode is chosen from x-amz-content-sha256', () => {
    assert.equal(STREAMING_SIGNED, 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD')
  })
})
