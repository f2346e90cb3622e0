import type { FastifyRequest } from 'fastify'
import { badRequest } from '../../core/errors.ts'
import type { Api } from '../../core/http/app.ts'
import { bodyOf } from '../../core/http/app.ts'
import { type HostRegistration, hostInstances, registerHost } from '../agent-hosts.ts'
import { type AgentReport, handleReport } from '../agent-reports.ts'
import type { ComputeCtx } from '../context.ts'
import { type HostWatch, hostRevision } from '../instances.ts'
import { PowerState } from '../virt/driver.ts'
import { queryOf, validateBody } from './common.ts'

// The agent API (docs/compute.md "Agent API"), under /cumulo-agent/v1 on the compute API's
// port: register/heartbeat, the long-poll watch of a host's servers, and reports. Policy
// `compute:agent` (admin or service). Bodies are checked after the policy, so a caller without
// the right learns nothing about what the API accepts.

/** The agent API's path prefix. */
export const AGENT_PREFIX = '/cumulo-agent/v1'
/** The longest a watch waits for a change (seconds). */
export const MAX_WAIT_S = 30
/**
 * A waiting watch re-reads the revision this often on PostgreSQL, for changes made by another
 * controller process. SQLite has one controller process (this one), whose changes wake the
 * watch directly: no re-reads (1,000 hosts' watches re-reading cost 125k queries a benchmark).
 */
const RECHECK_MS = 2000

const HOST = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/
const STR = { type: 'string', maxLength: 255 }

const REGISTER_SCHEMA = {
  type: 'object', additionalProperties: false,
  required: ['hypervisor_type', 'hypervisor_version', 'vcpus', 'memory_mb', 'local_gb', 'host_ip', 'agent_url'],
  properties: {
    hypervisor_type: { type: 'string', minLength: 1, maxLength: 255 },
    hypervisor_version: { type: 'integer', minimum: 0 },
    vcpus: { type: 'integer', minimum: 1, maximum: 1_000_000 },
    memory_mb: { type: 'integer', minimum: 1, maximum: 2_147_483_647 },
    local_gb: { type: 'integer', minimum: 0, maximum: 2_147_483_647 },
    host_ip: STR,
    agent_url: { type: 'string', maxLength: 2048 },
    zone: { type: ['string', 'null'], maxLength: 255, pattern: '^[^:]*$' },
  },
}

const REPORT_SCHEMA = {
  type: 'object', additionalProperties: false, required: ['host', 'gen', 'power_state'],
  properties: {
    host: { type: 'string', minLength: 1, maxLength: 255 },
    gen: { type: 'integer', minimum: 0 },
    power_state: { type: 'string', enum: Object.keys(PowerState) },
    op: {
      type: 'object', additionalProperties: false, required: ['id', 'result'],
      properties: { id: { type: 'string', minLength: 1, maxLength: 255 }, result: { enum: ['ok', 'error'] }, message: { type: 'string' } },
    },
    fault: {
      type: 'object', additionalProperties: false, required: ['message'],
      properties: { message: { type: 'string', minLength: 1 }, details: { type: 'string' }, reschedule: { type: 'boolean' } },
    },
    addresses: { type: 'object' },
    deleted: { const: true },
    launched: { const: true },
  },
}

function hostParam(req: FastifyRequest): string {
  const host = (req.params as { host: string }).host
  if (!HOST.test(host)) throw badRequest(`Invalid host name: ${host.slice(0, 300)}`)
  return host
}

/** `since` (a revision, default −1: answer at once) and `wait` (seconds, default 0, at most 30). */
function watchQuery(req: FastifyRequest): { since: number; waitMs: number } {
  const q = queryOf(req)
  const extra = Object.keys(q).find((k) => k !== 'since' && k !== 'wait')
  if (extra) throw badRequest(`Unknown query parameter: ${extra}`)
  let since = -1
  if (q.since !== undefined) {
    if (!/^\d{1,15}$/.test(q.since)) throw badRequest(`Invalid since: ${q.since.slice(0, 50)} (a non-negative integer revision)`)
    since = Number(q.since)
  }
  let waitS = 0
  if (q.wait !== undefined) {
    if (!/^\d{1,6}(\.\d{1,3})?$/.test(q.wait)) throw badRequest(`Invalid wait: ${q.wait.slice(0, 50)} (seconds, 0 to ${MAX_WAIT_S})`)
    waitS = Math.min(Number(q.wait), MAX_WAIT_S)
  }
  return { since, waitMs: Math.round(waitS * 1000) }
}

/** A one-time wait for a host's change, cancellable (HostWatch.wait cannot drop its timer). */
function listen(watch: HostWatch, host: string, ms: number): { done: Promise<void>; cancel(): void } {
  let cancel = () => {}
  const done = new Promise<void>((resolve) => {
    const fire = () => { clearTimeout(t); watch.off(`host:${host}`, fire); resolve() }
    const t = setTimeout(fire, ms)
    watch.on(`host:${host}`, fire)
    cancel = fire
  })
  return { done, cancel }
}

/** The agent API's routes. */
export function agentRoutes(api: Api, c: ComputeCtx): void {
  const P = AGENT_PREFIX
  // Long-polls end when the API shuts down, so close() does not wait 30 s for them.
  const closing = new AbortController()
  api.addHook('preClose', (done) => { closing.abort(); done() })

  api.put(`${P}/hosts/:host`, { config: { policy: 'compute:agent' } }, async (req) => {
    const host = hostParam(req)
    validateBody(req, REGISTER_SCHEMA)
    return registerHost(c, host, bodyOf<HostRegistration>(req))
  })

  api.get(`${P}/hosts/:host/instances`, { config: { policy: 'compute:agent' } }, async (req, reply) => {
    const host = hostParam(req)
    const { since, waitMs } = watchQuery(req)
    const deadline = Date.now() + waitMs
    let gone = false
    const onGone = () => { gone = true }
    reply.raw.once('close', onGone)
    try {
      for (;;) {
        // Listen before reading, so a change committed between the read and the wait still wakes us.
        const w = listen(c.watch, host, Math.max(0, Math.min(deadline - Date.now(), c.engine === 'postgres' ? RECHECK_MS : Infinity)))
        const stop = () => w.cancel()
        closing.signal.addEventListener('abort', stop, { once: true })
        const rev = await hostRevision(c.db, host)
        if (rev > since || Date.now() >= deadline || gone || closing.signal.aborted) {
          w.cancel()
          closing.signal.removeEventListener('abort', stop)
          break
        }
        await w.done
        closing.signal.removeEventListener('abort', stop)
      }
    } finally {
      reply.raw.off('close', onGone)
    }
    return hostInstances(c, host)
  })

  api.post(`${P}/instances/:uuid/report`, { config: { policy: 'compute:agent' } }, async (req) => {
    validateBody(req, REPORT_SCHEMA)
    const uuid = (req.params as { uuid: string }).uuid
    return handleReport(c, uuid, bodyOf<AgentReport>(req))
  })
}
