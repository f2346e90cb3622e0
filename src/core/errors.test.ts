import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  CloudError, type Kind, STATUS, asCloudError, badRequest, conflict, forbidden, notFound, statusTitle, unauthorized,
} from './errors.ts'

describe('CloudError', () => {
  it('maps every kind to its HTTP status', () => {
    const want: Record<Kind, number> = {
      BadRequest: 400, Unauthorized: 401, Forbidden: 403, NotFound: 404, MethodNotAllowed: 405,
      NotAcceptable: 406, Conflict: 409, Gone: 410, PreconditionFailed: 412, PayloadTooLarge: 413,
      UnsupportedMediaType: 415, RangeNotSatisfiable: 416, Unprocessable: 422, TooManyRequests: 429,
      Internal: 500, NotImplemented: 501, Unavailable: 503,
    }
    assert.deepEqual(STATUS, want)
    for (const [kind, status] of Object.entries(want) as [Kind, number][]) {
      const e = new CloudError(kind, 'm')
      assert.equal(e.status, status, kind)
      assert.equal(e.kind, kind)
    }
  })
  it('is an Error named CloudError; code defaults to the kind', () => {
    const e = new CloudError('NotFound', 'Could not find user: u1.')
    assert.ok(e instanceof Error)
    assert.equal(e.name, 'CloudError')
    assert.equal(e.message, 'Could not find user: u1.')
    assert.equal(e.code, 'NotFound')
    assert.equal(e.headers, undefined)
    assert.match(String(e.stack), /CloudError/)
  })
  it('carries a custom code, headers and a cause', () => {
    const cause = new Error('disk on fire')
    const e = new CloudError('Unavailable', 'try later', 'ServiceUnavailable', { cause, headers: { 'retry-after': '5' } })
    assert.equal(e.code, 'ServiceUnavailable')
    assert.deepEqual(e.headers, { 'retry-after': '5' })
    assert.equal(e.cause, cause)
    assert.equal(e.status, 503)
  })
  it('helpers build the usual errors', () => {
    assert.equal(badRequest('b').status, 400)
    assert.equal(notFound('n', 'NoSuchBucket').code, 'NoSuchBucket')
    assert.equal(conflict('c').status, 409)
    assert.equal(forbidden('f').status, 403)
    const u = unauthorized()
    assert.equal(u.status, 401)
    assert.equal(u.message, 'The request you have made requires authentication.')
    assert.equal(unauthorized('bad token').message, 'bad token')
  })
})

describe('statusTitle', () => {
  it('gives the HTTP reason phrase', () => {
    assert.equal(statusTitle(404), 'Not Found')
    assert.equal(statusTitle(409), 'Conflict')
    assert.equal(statusTitle(500), 'Internal Server Error')
    assert.equal(statusTitle(799), 'Error')
  })
})

describe('asCloudError', () => {
  it('passes a CloudError through unchanged', () => {
    const e = notFound('x')
    assert.equal(asCloudError(e), e)
  })
  it('keeps the status of a Fastify 4xx error', () => {
    const e = asCloudError(Object.assign(new Error('Route GET:/x not found'), { statusCode: 404, code: 'FST_ERR_NOT_FOUND' }))
    assert.equal(e.status, 404)
    assert.equal(e.kind, 'NotFound')
    assert.equal(e.code, 'FST_ERR_NOT_FOUND')
    assert.equal(e.message, 'Route GET:/x not found')
    const m = asCloudError(Object.assign(new Error('nope'), { statusCode: 405 }))
    assert.equal(m.status, 405)
    assert.equal(m.code, 'MethodNotAllowed')
  })
  it('rewrites Fastify body-parser messages', () => {
    const json = asCloudError(Object.assign(new Error("Body is not valid JSON but content-type is set to 'application/json'"),
      { statusCode: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY' }))
    assert.equal(json.status, 400)
    assert.equal(json.message, 'Malformed request body: the body is not valid JSON.')
    const big = asCloudError(Object.assign(new Error('Request body is too large'),
      { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' }))
    assert.equal(big.status, 413)
    assert.match(big.message, /^Request Entity Too Large/)
    const media = asCloudError(Object.assign(new Error('Unsupported Media Type: text/foo'),
      { statusCode: 415, code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' }))
    assert.equal(media.status, 415)
    assert.equal(media.message, 'Unsupported media type.')
  })
  it('a 4xx status with no kind of its own becomes a 400', () => {
    const e = asCloudError(Object.assign(new Error('teapot'), { statusCode: 418 }))
    assert.equal(e.status, 400)
  })
  it('anything else is a 500 that hides the cause', () => {
    const cause = new Error('password=hunter2 in a stack trace')
    for (const thrown of [cause, 'a string', undefined, null, { statusCode: 502 }]) {
      const e = asCloudError(thrown)
      assert.equal(e.status, 500)
      assert.equal(e.kind, 'Internal')
      assert.doesNotMatch(e.message, /hunter2/)
      assert.equal(e.cause, thrown)
    }
  })
})
