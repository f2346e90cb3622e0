// Container and account quotas through the whole proxy: validation, who may set them, and
// uploads at the boundary (413 only for callers allowed to write; resellers are exempt).
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type SwiftFixture, swiftFixture } from './test-kit.ts'

let f: SwiftFixture
let A: string
before(async () => { f = await swiftFixture(); A = `/v1/${f.account}` })
after(async () => { await f?.close() })

const put = (path: string, body: string, o: { token?: string | null; headers?: Record<string, string> } = {}) =>
  f.call('PUT', `${A}/${path}`, { body, ...o })

describe('quotas: /info', () => {
  it('publishes container_quotas and account_quotas', async () => {
    const info = JSON.parse((await f.call('GET', '/info', { token: null })).body)
    assert.deepEqual(info.container_quotas, {})
    assert.deepEqual(info.account_quotas, {})
  })
})

describe('container quotas', () => {
  it('validates quota values on PUT and POST', async () => {
    const bad = await f.call('PUT', `${A}/cq0`, { headers: { 'x-container-meta-quota-bytes': '10kb' } })
    assert.equal(bad.statusCode, 400)
    assert.equal(bad.body, 'Invalid bytes quota.')
    await f.call('PUT', `${A}/cq0`)
    const badCount = await f.call('POST', `${A}/cq0`, { headers: { 'x-container-meta-quota-count': '-1' } })
    assert.equal(badCount.statusCode, 400)
    assert.equal(badCount.body, 'Invalid count quota.')
    assert.equal((await f.call('POST', `${A}/cq0`, { headers: { 'x-container-meta-quota-count': '' } })).statusCode, 204)
  })

  it('holds uploads to the bytes quota, exactly at the boundary', async () => {
    await f.call('PUT', `${A}/cq1`, { headers: { 'x-container-meta-quota-bytes': '10' } })
    assert.equal((await put('cq1/a', '123456')).statusCode, 201)
    assert.equal((await put('cq1/b', '1234')).statusCode, 201) // 10 of 10
    const over = await put('cq1/c', '1')
    assert.equal(over.statusCode, 413)
    assert.equal(over.body, 'Upload exceeds quota.')
    assert.equal((await f.call('HEAD', `${A}/cq1/c`)).statusCode, 404)
    assert.equal((await put('cq1/empty', '', { headers: { 'content-length': '0' } })).statusCode, 201) // 0 bytes still fit
    await f.call('DELETE', `${A}/cq1/b`)
    assert.equal((await put('cq1/c', '1234')).statusCode, 201)
    assert.equal((await f.call('HEAD', `${A}/cq1`)).headers['x-container-bytes-used'], '10')
  })

  it('holds uploads to the count quota; a copy counts its source length', async () => {
    await f.call('PUT', `${A}/cq2`, { headers: { 'x-container-meta-quota-count': '2', 'x-container-meta-quota-bytes': '5' } })
    assert.equal((await put('cq2/1', 'a')).statusCode, 201)
    assert.equal((await put('cq2/2', 'b')).statusCode, 201)
    assert.equal((await put('cq2/3', 'c')).statusCode, 413)
    await f.call('PUT', `${A}/src`)
    await put('src/big', '12345678')
    await f.call('POST', `${A}/cq2`, { headers: { 'x-container-meta-quota-count': '10' } })
    const copy = await f.call('PUT', `${A}/cq2/copied`, { headers: { 'x-copy-from': '/src/big', 'content-length': '0' } })
    assert.equal(copy.statusCode, 413)
  })

  it('answers 403/401 rather than 413 to callers who may not write there', async () => {
    await f.call('PUT', `${A}/cq3`, { headers: { 'x-container-meta-quota-count': '0' } })
    const bob = await f.user('cq-bob')
    assert.equal((await put('cq3/x', 'x', { token: bob.token })).statusCode, 403)
    assert.equal((await put('cq3/x', 'x', { token: null })).statusCode, 401)
    assert.equal((await put('cq3/x', 'x')).statusCode, 413)
    await f.call('POST', `${A}/cq3`, { headers: { 'x-container-write': `${bob.projectId}:*` } })
    assert.equal((await put('cq3/x', 'x', { token: bob.token })).statusCode, 413)
  })
})

describe('account quotas', () => {
  // An account of its own: usage is the account's total.
  let reseller: { token: string }
  let owner: { token: string; account: string }
  let B: string
  const up = (path: string, body: string, token?: string) => f.call('PUT', `${B}/${path}`, { body, token: token ?? owner.token })
  before(async () => {
    reseller = await f.user('reseller', 'ResellerAdmin')
    owner = await f.user('aq-owner')
    B = `/v1/${owner.account}`
  })

  it('only a reseller admin sets or removes them; others get 403', async () => {
    for (const h of [{ 'x-account-meta-quota-bytes': '100' }, { 'x-account-meta-quota-bytes': '' } as Record<string, string>,
      { 'x-remove-account-meta-quota-bytes': 'x' }, { 'x-account-quota-count': '3' }]) {
      assert.equal((await f.call('POST', B, { token: owner.token, headers: h })).statusCode, 403, JSON.stringify(h))
      assert.equal((await f.call('POST', A, { headers: h })).statusCode, 403, JSON.stringify(h))
    }
    assert.equal((await f.call('POST', B, { token: reseller.token, headers: { 'x-account-meta-quota-bytes': 'lots' } })).statusCode, 400)
    assert.equal((await f.call('POST', B, { token: reseller.token, headers: { 'x-account-meta-quota-bytes': '20' } })).statusCode, 204)
    const head = await f.call('HEAD', B, { token: owner.token })
    assert.equal(head.headers['x-account-meta-quota-bytes'], '20')
    assert.equal(head.headers['x-account-quota-bytes'], '20')
    assert.equal(head.headers['x-account-sysmeta-quota-bytes'], undefined)
  })

  it('refuses uploads past the bytes quota (usage as the account reports it); resellers are exempt', async () => {
    await f.call('PUT', `${B}/aq`, { token: owner.token })
    assert.equal((await up('aq/a', '123456789012345')).statusCode, 201) // 15 of 20
    await f.store.daemons.containerUpdater.runOnce()
    assert.equal((await f.call('HEAD', B, { token: owner.token })).headers['x-account-bytes-used'], '15')
    const over = await up('aq/b', '123456')
    assert.equal(over.statusCode, 413)
    assert.equal(over.body, 'Upload exceeds quota.')
    assert.equal((await up('aq/b', '12345')).statusCode, 201) // exactly 20
    assert.equal((await up('aq/r', 'x'.repeat(100), reseller.token)).statusCode, 201)
    const bob = await f.user('aq-bob')
    assert.equal((await up('aq/c', '123456', bob.token)).statusCode, 403)
  })

  it('takes X-Account-Quota-Count and per-policy quotas as sysmeta, and removes them', async () => {
    const r = await f.call('POST', B, { token: reseller.token, headers: { 'x-remove-account-meta-quota-bytes': 'x',
      'x-account-quota-count': '3', 'x-account-quota-bytes-policy-policy-0': '200' } })
    assert.equal(r.statusCode, 204)
    await f.store.daemons.containerUpdater.runOnce()
    const head = await f.call('HEAD', B, { token: owner.token })
    assert.equal(head.headers['x-account-quota-bytes'], undefined)
    assert.equal(head.headers['x-account-meta-quota-bytes'], undefined)
    assert.equal(head.headers['x-account-quota-count'], '3')
    assert.equal(head.headers['x-account-quota-bytes-policy-policy-0'], '200')
    assert.equal(head.headers['x-account-object-count'], '3')
    assert.equal((await up('aq/d', 'd')).statusCode, 413)
    await f.call('POST', B, { token: reseller.token, headers: { 'x-remove-account-quota-count': 'x' } })
    await f.call('HEAD', B, { token: owner.token })
    const policy = await up('aq/e', 'x'.repeat(100))
    assert.equal(policy.statusCode, 413)
    assert.equal(policy.body, 'Upload exceeds policy quota.')
    await f.call('POST', B, { token: reseller.token, headers: { 'x-account-quota-bytes-policy-policy-0': '' } })
    await f.call('HEAD', B, { token: owner.token })
    assert.equal((await up('aq/e', 'x'.repeat(100))).statusCode, 201)
  })
})
