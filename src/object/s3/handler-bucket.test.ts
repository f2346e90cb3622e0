// Bucket operations over a real local HTTP server and the in-memory storage: create (naming rules,
// registry, ownership), head, list, delete (BucketNotEmpty), location, versioning, ACLs with
// anonymous and cross-account access, CORS preflights.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { FakeS3Storage } from './fake-storage.ts'
import { BOB, send, startS3TestServer, xmlText, xmlTexts, type S3TestServer } from './testing.ts'

let srv: S3TestServer
before(async () => { srv = await startS3TestServer() })
after(async () => {
  await srv.close()
  assert.deepEqual(srv.errors, [], 'no request failed with a 500')
})

describe('bucket CRUD', () => {
  it('creates, heads, lists and deletes a bucket', async () => {
    const c = srv.client()
    const created = await c.request('PUT', '/photos')
    assert.equal(created.status, 200, created.text)
    assert.equal(created.headers.location, '/photos')
    assert.equal((await c.request('HEAD', '/photos')).status, 200)
    const list = await c.request('GET', '/')
    assert.equal(list.status, 200)
    assert.match(list.text, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<ListAllMyBucketsResult xmlns="http:\/\/s3.amazonaws.com\/doc\/2006-03-01\/">/)
    assert.deepEqual(xmlTexts(list.text, 'Name'), ['photos'])
    assert.equal(xmlText(list.text, 'ID'), 'p-alice')
    assert.match(xmlText(list.text, 'CreationDate')!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    assert.equal((await c.request('DELETE', '/photos')).status, 204)
    assert.equal((await c.request('HEAD', '/photos')).status, 404)
    assert.deepEqual(xmlTexts((await c.request('GET', '/')).text, 'Name'), [])
  })

  it('answers BucketAlreadyOwnedByYou, and BucketAlreadyExists to another project', async () => {
    const c = srv.client()
    assert.equal((await c.request('PUT', '/mine')).status, 200)
    const again = await c.request('PUT', '/mine')
    assert.equal(again.status, 409)
    assert.equal(xmlText(again.text, 'Code'), 'BucketAlreadyOwnedByYou')
    const bob = await srv.client(BOB).request('PUT', '/mine')
    assert.equal(bob.status, 409)
    assert.equal(xmlText(bob.text, 'Code'), 'BucketAlreadyExists')
    // Once deleted, the name is free for anyone.
    assert.equal((await c.request('DELETE', '/mine')).status, 204)
    assert.equal((await srv.client(BOB).request('PUT', '/mine')).status, 200)
  })

  it('refuses invalid bucket names without creating anything', async () => {
    const c = srv.client()
    for (const name of ['ab', 'Upper', 'a..b', '-dash', '192.168.1.1', 'x'.repeat(64), 'under_score', 'xn--punycode']) {
      const r = await c.request('PUT', `/${name}`)
      assert.equal(r.status, 400, name)
      assert.equal(xmlText(r.text, 'Code'), 'InvalidBucketName', name)
    }
    const plus = await c.request('PUT', '/a+segments')
    assert.equal(xmlText(plus.text, 'Code'), 'InvalidBucketName')
    assert.deepEqual((srv.storage as FakeS3Storage).containerNames('AUTH_p-alice').filter((n) => n.includes('_') || n.includes('A')), [])
  })

  it('refuses a location constraint of another region and accepts its own', async () => {
    const c = srv.client()
    const doc = (lc: string) => `<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>${lc}</LocationConstraint></CreateBucketConfiguration>`
    const bad = await c.request('PUT', '/located', { body: doc('eu-west-1') })
    assert.equal(xmlText(bad.text, 'Code'), 'IllegalLocationConstraintException')
    assert.equal((await c.request('HEAD', '/located')).status, 404)
    assert.equal((await c.request('PUT', '/located', { body: doc('RegionOne') })).status, 200)
    const loc = await c.request('GET', '/located?location')
    assert.match(loc.text, /<LocationConstraint xmlns="http:\/\/s3.amazonaws.com\/doc\/2006-03-01\/">RegionOne<\/LocationConstraint>/)
  })

  it('refuses to delete a bucket that holds objects', async () => {
    const c = srv.client()
    await c.request('PUT', '/full')
    await c.request('PUT', '/full/k', { body: 'x' })
    const r = await c.request('DELETE', '/full')
    assert.equal(r.status, 409)
    assert.equal(xmlText(r.text, 'Code'), 'BucketNotEmpty')
    assert.equal(xmlText(r.text, 'BucketName'), 'full')
    assert.equal((await c.request('DELETE', '/full/k')).status, 204)
    assert.equal((await c.request('DELETE', '/full')).status, 204)
  })

  it('answers NoSuchBucket with the XML error document', async () => {
    const r = await srv.client().request('GET', '/nowhere?list-type=2')
    assert.equal(r.status, 404)
    assert.equal(r.headers['content-type'], 'application/xml')
    assert.equal(xmlText(r.text, 'Code'), 'NoSuchBucket')
    assert.equal(xmlText(r.text, 'BucketName'), 'nowhere')
    assert.ok(r.headers['x-amz-request-id'])
    assert.equal(xmlText(r.text, 'RequestId'), r.headers['x-amz-request-id'])
    const head = await srv.client().request('HEAD', '/nowhere')
    assert.equal(head.status, 404)
    assert.equal(head.body.length, 0)
  })

  it('keeps versioning unversioned: Enabled is refused, Suspended is recorded', async () => {
    const c = srv.client()
    await c.request('PUT', '/ver')
    assert.equal(xmlText((await c.request('GET', '/ver?versioning')).text, 'Status'), undefined)
    const doc = (s: string) => `<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>${s}</Status></VersioningConfiguration>`
    const en = await c.request('PUT', '/ver?versioning', { body: doc('Enabled') })
    assert.equal(en.status, 501)
    assert.equal(xmlText(en.text, 'Code'), 'NotImplemented')
    assert.equal((await c.request('PUT', '/ver?versioning', { body: doc('Suspended') })).status, 200)
    assert.equal(xmlText((await c.request('GET', '/ver?versioning')).text, 'Status'), 'Suspended')
    const bad = await c.request('PUT', '/ver?versioning', { body: doc('Sometimes') })
    assert.equal(xmlText(bad.text, 'Code'), 'MalformedXML')
  })

  it('names unsupported sub-resources in a 501', async () => {
    const r = await srv.client().request('GET', '/ver?lifecycle')
    assert.equal(r.status, 501)
    assert.equal(xmlText(r.text, 'Code'), 'NotImplemented')
    assert.match(xmlText(r.text, 'Message')!, /lifecycle/)
  })
})

describe('canned ACLs', () => {
  it('serves a public-read bucket to anonymous readers only', async () => {
    const c = srv.client()
    assert.equal((await c.request('PUT', '/public', { headers: { 'x-amz-acl': 'public-read' } })).status, 200)
    await c.request('PUT', '/public/hello.txt', { body: 'hello' })
    const anon = srv.client(null)
    const got = await anon.request('GET', '/public/hello.txt')
    assert.equal(got.status, 200)
    assert.equal(got.text, 'hello')
    assert.equal((await anon.request('GET', '/public?list-type=2')).status, 200)
    const put = await anon.request('PUT', '/public/evil.txt', { body: 'x' })
    assert.equal(put.status, 403)
    assert.equal(xmlText(put.text, 'Code'), 'AccessDenied')
    assert.equal((await anon.request('DELETE', '/public/hello.txt')).status, 403)
    assert.equal((await anon.request('GET', '/public?acl')).status, 403)
    assert.equal((await c.request('GET', '/public/hello.txt')).status, 200)
    const acl = await c.request('GET', '/public?acl')
    assert.match(acl.text, /<URI>http:\/\/acs.amazonaws.com\/groups\/global\/AllUsers<\/URI><\/Grantee><Permission>READ<\/Permission>/)
    assert.match(acl.text, /xsi:type="CanonicalUser"><ID>p-alice<\/ID>/)
  })

  it('keeps private buckets private, and a private bucket can hold a public-read object', async () => {
    const c = srv.client()
    await c.request('PUT', '/private')
    await c.request('PUT', '/private/secret', { body: 's' })
    await c.request('PUT', '/private/open', { body: 'o', headers: { 'x-amz-acl': 'public-read' } })
    const anon = srv.client(null)
    assert.equal((await anon.request('GET', '/private/secret')).status, 403)
    assert.equal((await anon.request('GET', '/private/missing')).status, 403)
    assert.equal((await anon.request('GET', '/private?list-type=2')).status, 403)
    assert.equal((await anon.request('GET', '/private/open')).text, 'o')
    assert.equal((await srv.client(BOB).request('GET', '/private/secret')).status, 403)
    // PutObjectAcl turns the secret public; GetObjectAcl shows it.
    assert.equal((await c.request('PUT', '/private/secret?acl', { headers: { 'x-amz-acl': 'public-read' } })).status, 200)
    assert.equal((await anon.request('GET', '/private/secret')).text, 's')
    assert.match((await c.request('GET', '/private/secret?acl')).text, /AllUsers/)
  })

  it('lets anyone write to a public-read-write bucket, into its owner\'s account', async () => {
    const c = srv.client()
    await c.request('PUT', '/dropbox', { headers: { 'x-amz-acl': 'public-read-write' } })
    assert.equal((await srv.client(null).request('PUT', '/dropbox/from-anon', { body: 'a' })).status, 200)
    assert.equal((await srv.client(BOB).request('PUT', '/dropbox/from-bob', { body: 'b' })).status, 200)
    assert.deepEqual((srv.storage as FakeS3Storage).objectNames('AUTH_p-alice', 'dropbox'), ['from-anon', 'from-bob'])
    assert.equal((await srv.client(BOB).request('PUT', '/dropbox?acl', { headers: { 'x-amz-acl': 'private' } })).status, 403)
  })

  it('authenticated-read: other projects read, anonymous does not', async () => {
    const c = srv.client()
    await c.request('PUT', '/members', { headers: { 'x-amz-acl': 'authenticated-read' } })
    await c.request('PUT', '/members/doc', { body: 'd' })
    assert.equal((await srv.client(BOB).request('GET', '/members/doc')).text, 'd')
    assert.equal((await srv.client(null).request('GET', '/members/doc')).status, 403)
  })

  it('accepts an AccessControlPolicy body equal to a canned ACL, refuses other grants', async () => {
    const c = srv.client()
    await c.request('PUT', '/aclbody')
    const policy = (extra: string) => `<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>p-alice</ID></Owner><AccessControlList>` +
      `<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>p-alice</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant>${extra}</AccessControlList></AccessControlPolicy>`
    const allUsersRead = '<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant>'
    assert.equal((await c.request('PUT', '/aclbody?acl', { body: policy(allUsersRead) })).status, 200)
    assert.match((await c.request('GET', '/aclbody?acl')).text, /AllUsers/)
    const other = await c.request('PUT', '/aclbody?acl', { body: policy('<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>p-bob</ID></Grantee><Permission>READ</Permission></Grant>') })
    assert.equal(other.status, 501)
    const bad = await c.request('PUT', '/aclbody?acl', { headers: { 'x-amz-acl': 'world-writable' } })
    assert.equal(xmlText(bad.text, 'Code'), 'InvalidArgument')
    const malformed = await c.request('PUT', '/aclbody?acl', { body: '<AccessControlPolicy><oops' })
    assert.equal(xmlText(malformed.text, 'Code'), 'MalformedACLError')
  })
})

describe('CORS', () => {
  const config = `<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><CORSRule><AllowedOrigin>https://*.example.com</AllowedOrigin>` +
    '<AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod><AllowedHeader>x-amz-*</AllowedHeader><AllowedHeader>content-type</AllowedHeader>' +
    '<ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>600</MaxAgeSeconds></CORSRule></CORSConfiguration>'

  it('stores, returns and deletes a configuration', async () => {
    const c = srv.client()
    await c.request('PUT', '/web', { headers: { 'x-amz-acl': 'public-read' } })
    assert.equal(xmlText((await c.request('GET', '/web?cors')).text, 'Code'), 'NoSuchCORSConfiguration')
    assert.equal((await c.request('PUT', '/web?cors', { body: config })).status, 200)
    const got = await c.request('GET', '/web?cors')
    assert.deepEqual(xmlTexts(got.text, 'AllowedMethod'), ['GET', 'PUT'])
    assert.equal(xmlText(got.text, 'MaxAgeSeconds'), '600')
    const bad = await c.request('PUT', '/web?cors', { body: config.replace('<AllowedMethod>PUT</AllowedMethod>', '<AllowedMethod>PATCH</AllowedMethod>') })
    assert.equal(xmlText(bad.text, 'Code'), 'InvalidRequest')
    assert.equal((await c.request('PUT', '/web?cors', { body: config })).status, 200)
  })

  it('answers preflights by the rules and adds headers to actual requests', async () => {
    const c = srv.client()
    await c.request('PUT', '/web/page.html', { body: '<p>' })
    const pre = await send('OPTIONS', `${srv.url}/web/page.html`, { origin: 'https://app.example.com',
      'access-control-request-method': 'PUT', 'access-control-request-headers': 'Content-Type, X-Amz-Date' })
    assert.equal(pre.status, 200, pre.text)
    assert.equal(pre.headers['access-control-allow-origin'], 'https://app.example.com')
    assert.equal(pre.headers['access-control-allow-methods'], 'GET, PUT')
    assert.equal(pre.headers['access-control-allow-headers'], 'content-type, x-amz-date')
    assert.equal(pre.headers['access-control-max-age'], '600')
    const denied = await send('OPTIONS', `${srv.url}/web/page.html`, { origin: 'https://evil.test', 'access-control-request-method': 'GET' })
    assert.equal(denied.status, 403)
    assert.equal(xmlText(denied.text, 'Code'), 'AccessForbidden')
    const del = await send('OPTIONS', `${srv.url}/web/page.html`, { origin: 'https://app.example.com', 'access-control-request-method': 'DELETE' })
    assert.equal(del.status, 403)
    const actual = await send('GET', `${srv.url}/web/page.html`, { origin: 'https://www.example.com' })
    assert.equal(actual.status, 200)
    assert.equal(actual.headers['access-control-allow-origin'], 'https://www.example.com')
    assert.equal(actual.headers['access-control-expose-headers'], 'ETag')
    assert.equal((await c.request('DELETE', '/web?cors')).status, 204)
    assert.equal((await send('OPTIONS', `${srv.url}/web/page.html`, { origin: 'https://app.example.com', 'access-control-request-method': 'GET' })).status, 403)
  })
})
