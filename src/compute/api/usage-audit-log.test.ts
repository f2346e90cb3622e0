import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type ComputeHarness, computeHarness } from '../testing.ts'
import { registerHost } from './actions-testing.ts'
import { lastCompletedMonth } from './usage-audit-log.ts'

describe('os-instance_usage_audit_log', () => {
  let h: ComputeHarness
  before(async () => { h = await computeHarness(); await registerHost(h, 'host1'); await registerHost(h, 'host2') })
  after(async () => { await h.close() })

  it('the last completed month is the period', () => {
    const p = lastCompletedMonth(new Date('2026-01-15T10:00:00Z'))
    assert.equal(p.begin.toISOString(), '2025-12-01T00:00:00.000Z')
    assert.equal(p.end.toISOString(), '2026-01-01T00:00:00.000Z')
  })

  it('reports every compute host as not run (no audit runs here); bad dates 400; admin only', async () => {
    let r = await h.json('GET', '/v2.1/os-instance_usage_audit_log')
    assert.equal(r.status, 200)
    const log = r.body.instance_usage_audit_logs
    assert.equal(log.num_hosts, 2)
    assert.equal(log.num_hosts_not_run, 2)
    assert.deepEqual(log.hosts_not_run.sort(), ['host1', 'host2'])
    assert.equal(log.overall_status, '0 of 2 hosts done. 0 errors.')
    r = await h.json('GET', `/v2.1/os-instance_usage_audit_log/${encodeURIComponent('2026-03-10 12:00:00')}`)
    assert.equal(r.status, 200)
    assert.equal(r.body.instance_usage_audit_log.period_beginning, '2026-02-01 00:00:00')
    assert.equal(r.body.instance_usage_audit_log.period_ending, '2026-03-01 00:00:00')
    r = await h.json('GET', '/v2.1/os-instance_usage_audit_log/invalid_time')
    assert.equal(r.status, 400)
    assert.equal(r.body.badRequest.message, 'Invalid timestamp for date invalid_time')
    const member = await h.projectUser('member')
    assert.equal((await h.json('GET', '/v2.1/os-instance_usage_audit_log', { token: member.token })).status, 403)
  })
})
