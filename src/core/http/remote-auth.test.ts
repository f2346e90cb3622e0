import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { ADMIN_PASSWORD, type IdentityHarness, identityHarness } from '../../identity/testing.ts'
import { RemoteTokenValidator } from './remote-auth.ts'

let h: IdentityHarness
let url: string
before(async () => {
  h = await identityHarness()
  await h.identity.api.listen({ host: '127.0.0.1', port: 0 })
  url = `http://127.0.0.1:${(h.identity.api.server.address() as AddressInfo).port}/v3`
})
after(async () => { await h.close() })

test('validates tokens over the identity API and maps them to an AuthContext', async () => {
  const v = new RemoteTokenValidator({ identityUrl: url, service: { username: 'admin', password: ADMIN_PASSWORD, projectName: 'admin' }, cacheSeconds: 0 })
  const ctx = await v.validate(h.adminToken)
  assert.equal(ctx.userId, h.adminUserId)
  assert.equal(ctx.projectId, h.adminProjectId)
  assert.deepEqual(ctx.roles.map((r) => r.name).sort(), ['admin', 'member', 'reader'])
  assert.ok(ctx.expiresAt > Date.now())
})

test('a forged or revoked token is rejected with 401', async () => {
  const v = new RemoteTokenValidator({ identityUrl: url, service: { username: 'admin', password: ADMIN_PASSWORD, projectName: 'admin' }, cacheSeconds: 0 })
  await assert.rejects(v.validate('AQ' + 'x'.repeat(120)), (e: any) => e.status === 401)
  const t = await h.login(h.adminUserId, ADMIN_PASSWORD, { project: { id: h.adminProjectId } })
  await v.validate(t)
  const r = await h.call('DELETE', '/v3/auth/tokens', { headers: { 'x-subject-token': t } })
  assert.equal(r.statusCode, 204)
  await assert.rejects(v.validate(t), (e: any) => e.status === 401)
})

test('a service that cannot authenticate reports 503, not 401', async () => {
  const v = new RemoteTokenValidator({ identityUrl: url, service: { username: 'admin', password: 'wrong', projectName: 'admin' } })
  await assert.rejects(v.validate(h.adminToken), (e: any) => e.status === 503)
})
