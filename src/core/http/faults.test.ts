import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import Fastify from 'fastify'
import { CloudError, type Kind } from '../errors.ts'
import { type Dialect, renderFault } from './faults.ts'

/** A tiny app: GET /:dialect/:kind throws that error, and the error handler renders it. */
const app = Fastify({ genReqId: () => 'req-1234' })
app.setErrorHandler((err, req, reply) => {
  renderFault(reply, (req.params as { dialect: Dialect }).dialect, err as CloudError, req.id)
})
app.get('/:dialect/:kind', async (req) => {
  const { kind } = req.params as { kind: Kind }
  const q = req.query as { msg?: string; code?: string; retry?: string }
  throw new CloudError(kind, q.msg ?? 'Something went wrong.', q.code,
    q.retry ? { headers: { 'retry-after': q.retry } } : undefined)
})
after(() => app.close())

async function fault(dialect: Dialect, kind: Kind, query: Record<string, string> = {}) {
  const res = await app.inject({ method: 'GET', url: `/${dialect}/${kind}`, query })
  return res
}

describe('renderFault', () => {
  it('keystone: {error: {code, title, message}}', async () => {
    const res = await fault('keystone', 'NotFound', { msg: 'Could not find user: u1.' })
    assert.equal(res.statusCode, 404)
    assert.match(String(res.headers['content-type']), /^application\/json/)
    assert.deepEqual(res.json(), { error: { code: 404, title: 'Not Found', message: 'Could not find user: u1.' } })
    assert.equal(res.headers['www-authenticate'], undefined)
  })
  it('keystone 401 says where to authenticate', async () => {
    const res = await fault('keystone', 'Unauthorized', { msg: 'The request you have made requires authentication.' })
    assert.equal(res.statusCode, 401)
    assert.equal(res.headers['www-authenticate'], 'Keystone uri="/v3"')
    assert.deepEqual(res.json(), {
      error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' },
    })
    // Only Keystone sends it.
    assert.equal((await fault('nova', 'Unauthorized')).headers['www-authenticate'], undefined)
  })
  it('nova and cinder name the fault after the status', async () => {
    const cases: [Kind, string][] = [
      ['BadRequest', 'badRequest'], ['Unauthorized', 'unauthorized'], ['Forbidden', 'forbidden'],
      ['NotFound', 'itemNotFound'], ['MethodNotAllowed', 'badMethod'], ['Conflict', 'conflictingRequest'],
      ['PayloadTooLarge', 'overLimit'], ['UnsupportedMediaType', 'badMediaType'], ['TooManyRequests', 'overLimit'],
      ['NotImplemented', 'notImplemented'], ['Unavailable', 'serviceUnavailable'],
      ['Internal', 'computeFault'], ['Gone', 'computeFault'],
    ]
    for (const dialect of ['nova', 'cinder'] as const) {
      for (const [kind, name] of cases) {
        const res = await fault(dialect, kind, { msg: `m-${kind}` })
        assert.match(String(res.headers['content-type']), /^application\/json/)
        assert.deepEqual(res.json(), { [name]: { code: res.statusCode, message: `m-${kind}` } }, `${dialect} ${kind}`)
      }
    }
  })
  it('neutron: {NeutronError: {type, message, detail}}', async () => {
    const res = await fault('neutron', 'NotFound', { msg: 'Network n1 could not be found.', code: 'NetworkNotFound' })
    assert.equal(res.statusCode, 404)
    assert.deepEqual(res.json(), { NeutronError: { type: 'NetworkNotFound', message: 'Network n1 could not be found.', detail: '' } })
    const conflict = await fault('neutron', 'Conflict', { msg: 'in use' })
    assert.deepEqual(conflict.json(), { NeutronError: { type: 'Conflict', message: 'in use', detail: '' } })
  })
  it('glance: {code: "404 Not Found", title, message}', async () => {
    const res = await fault('glance', 'NotFound', { msg: 'No image found with ID i1' })
    assert.equal(res.statusCode, 404)
    assert.deepEqual(res.json(), { code: '404 Not Found', title: 'Not Found', message: 'No image found with ID i1' })
  })
  it('swift: a small HTML page, escaped', async () => {
    const res = await fault('swift', 'NotFound', { msg: 'The resource <b>"x"</b> & co' })
    assert.equal(res.statusCode, 404)
    assert.match(String(res.headers['content-type']), /^text\/html/)
    assert.equal(res.body, '<html><h1>Not Found</h1><p>The resource &#60;b&#62;&#34;x&#34;&#60;/b&#62; &#38; co</p></html>')
  })
  it('s3: an XML Error with Code, Message and RequestId', async () => {
    const res = await fault('s3', 'NotFound', { msg: 'The specified bucket does not exist', code: 'NoSuchBucket' })
    assert.equal(res.statusCode, 404)
    assert.match(String(res.headers['content-type']), /^application\/xml/)
    assert.equal(res.body, '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchBucket</Code>' +
      '<Message>The specified bucket does not exist</Message><RequestId>req-1234</RequestId></Error>')
    const esc = await fault('s3', 'BadRequest', { msg: "key 'a<b'", code: 'InvalidArgument' })
    assert.match(esc.body, /<Message>key &#39;a&#60;b&#39;<\/Message>/)
  })
  it("sends the error's own headers in every dialect", async () => {
    for (const dialect of ['keystone', 'nova', 'cinder', 'neutron', 'glance', 'swift', 's3'] as const) {
      const res = await fault(dialect, 'Unavailable', { retry: '30' })
      assert.equal(res.statusCode, 503, dialect)
      assert.equal(res.headers['retry-after'], '30', dialect)
    }
  })
})
