import assert from 'node:assert/strict'
import { tailLines } from '../agent/console-server.ts'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { type ComputeHarness, computeHarness } from '../testing.ts'
import { insertServer, registerHost } from './actions-testing.ts'

describe('os-instance-actions and console output', () => {
  let h: ComputeHarness
  let member: { projectId: string; userId: string; token: string }
  before(async () => { h = await computeHarness(); member = await h.projectUser('member'); await registerHost(h) })
  after(async () => { await h.close() })
  const act = (uuid: string, body: unknown) => h.json('POST', `/v2.1/servers/${uuid}/action`, { token: member.token, body })

  it('lists newest first, pages from 2.58, shows events per microversion and role', async () => {
    const s = await insertServer(h, { project_id: member.projectId, user_id: member.userId })
    for (const body of [{ 'os-stop': null }]) assert.equal((await act(s.uuid, body)).status, 202)
    await h.compute.ctx.db.updateTable('instances').set({ vm_state: 'stopped', task_state: null }).where('uuid', '=', s.uuid).execute()
    assert.equal((await act(s.uuid, { 'os-start': null })).status, 202)
    await h.compute.ctx.db.updateTable('instances').set({ vm_state: 'active', task_state: null }).where('uuid', '=', s.uuid).execute()
    assert.equal((await act(s.uuid, { lock: null })).status, 202)
    let r = await h.json('GET', `/v2.1/servers/${s.uuid}/os-instance-actions`, { token: member.token })
    assert.deepEqual(r.body.instanceActions.map((a: any) => a.action), ['lock', 'start', 'stop'])
    assert.deepEqual(Object.keys(r.body.instanceActions[0]).sort(),
      ['action', 'instance_uuid', 'message', 'project_id', 'request_id', 'start_time', 'user_id'])
    assert.match(r.body.instanceActions[0].start_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/)
    r = await h.json('GET', `/v2.1/servers/${s.uuid}/os-instance-actions?limit=2`, { token: member.token, version: '2.58' })
    assert.deepEqual(r.body.instanceActions.map((a: any) => a.action), ['lock', 'start'])
    assert.ok(r.body.instanceActions[0].updated_at)
    const marker = r.body.instanceActions[1].request_id
    assert.ok(r.body.links[0].href.includes(`marker=${marker}`))
    r = await h.json('GET', `/v2.1/servers/${s.uuid}/os-instance-actions?limit=2&marker=${marker}`, { token: member.token, version: '2.58' })
    assert.deepEqual(r.body.instanceActions.map((a: any) => a.action), ['stop'])
    r = await h.json('GET', `/v2.1/servers/${s.uuid}/os-instance-actions?marker=nope`, { token: member.token, version: '2.58' })
    assert.equal(r.status, 400)
    r = await h.json('GET', `/v2.1/servers/${s.uuid}/os-instance-actions?changes-since=2999-01-01T00:00:00Z`, { token: member.token, version: '2.58' })
    assert.equal(r.body.instanceActions.length, 0)
    r = await h.json('GET', `/v2.1/servers/${s.uuid}/os-instance-actions?bogus=1`, { token: member.token, version: '2.58' })
    assert.equal(r.status, 400)

    // The lock's api_lock event: hidden from members before 2.51, shown without traceback after; admins see all.
    const lockReq = (await h.json('GET', `/v2.1/servers/${s.uuid}/os-instance-actions`, { token: member.token })).body.instanceActions[0].request_id
    r = await h.json('GET', `/v2.1/servers/${s.uuid}/os-instance-actions/${lockReq}`, { token: member.token })
    assert.equal(r.body.instanceAction.events, undefined)
    r = await h.json('GET', `/v2.1/servers/${s.uuid}/os-instance-actions/${lockReq}`, { token: member.token, version: '2.62' })
    assert.deepEqual(Object.keys(r.body.instanceAction.events[0]).sort(), ['event', 'finish_time', 'hostId', 'result', 'start_time'])
    r = await h.json('GET', `/v2.1/servers/${s.uuid}/os-instance-actions/${lockReq}`, { version: '2.62' })
    assert.deepEqual(Object.keys(r.body.instanceAction.events[0]).sort(), ['event', 'finish_time', 'host', 'hostId', 'result', 'start_time', 'traceback'])
    r = await h.json('GET', `/v2.1/servers/${s.uuid}/os-instance-actions/req-nope`, { token: member.token })
    assert.equal(r.status, 404)

    // Deleted servers: 404 before 2.21, listed from it.
    await h.compute.ctx.db.updateTable('instances').set({ deleted: 1, vm_state: 'deleted' }).where('uuid', '=', s.uuid).execute()
    r = await h.json('GET', `/v2.1/servers/${s.uuid}/os-instance-actions`, { token: member.token })
    assert.equal(r.status, 404)
    r = await h.json('GET', `/v2.1/servers/${s.uuid}/os-instance-actions`, { token: member.token, version: '2.21' })
    assert.equal(r.body.instanceActions.length, 3)
    const other = await h.projectUser('member')
    r = await h.json('GET', `/v2.1/servers/${s.uuid}/os-instance-actions`, { token: other.token, version: '2.21' })
    assert.equal(r.status, 404)
  })

  it('console output comes from the host agent with the caller token', async () => {
    const seen: Array<{ url: string; token: unknown }> = []
    const agent = createServer((req, res) => {
      seen.push({ url: req.url!, token: req.headers['x-auth-token'] })
      res.setHeader('content-type', 'application/json')
      // As the agent does: the last `length` lines of its log, counted as Nova counts them.
      const length = new URL(req.url!, 'http://agent').searchParams.get('length')
      res.end(JSON.stringify({ output: length === null ? 'line1\nline2\n' : tailLines('line1\nline2\n', Number(length)) }))
    })
    await new Promise<void>((r) => agent.listen(0, '127.0.0.1', r))
    try {
      await registerHost(h, 'host9', { agentUrl: `http://127.0.0.1:${(agent.address() as AddressInfo).port}` })
      const s = await insertServer(h, { project_id: member.projectId, user_id: member.userId, host: 'host9', node: 'host9' })
      const r = await act(s.uuid, { 'os-getConsoleOutput': { length: '2' } })
      assert.equal(r.status, 200)
      // Nova's _tail_log counts the empty piece after a final newline as a line: of 2 "lines"
      // one is that piece.
      assert.deepEqual(r.body, { output: 'line2\n' })
      assert.equal(seen[0]!.url, `/instances/${s.uuid}/console?length=2`)
      assert.equal(seen[0]!.token, member.token)
    } finally {
      agent.close()
    }
    // An agent that is gone: 503.
    await registerHost(h, 'host8', { agentUrl: 'http://127.0.0.1:1' })
    const s = await insertServer(h, { project_id: member.projectId, user_id: member.userId, host: 'host8', node: 'host8' })
    const r = await act(s.uuid, { 'os-getConsoleOutput': {} })
    assert.equal(r.status, 503)
  })
})
