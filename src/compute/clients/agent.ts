import { CloudError } from '../../core/errors.ts'
import type { ComputeCtx } from '../context.ts'

// The controller's synchronous questions to a host's agent (console output, uptime): the agent's
// endpoint is the `agent_url` it registered; the caller's own token is forwarded, and the agent
// checks it with Keystone itself (docs/compute.md, "Agent API").

/** GET `path` on `host`'s agent with `token`; its status and JSON body. Unreachable → 503. */
export async function askAgent(c: ComputeCtx, host: string, path: string, token: string): Promise<{ status: number; body: unknown }> {
  const node = await c.db.selectFrom('compute_nodes').select('agent_url').where('host', '=', host).executeTakeFirst()
  if (!node?.agent_url) throw new CloudError('Conflict', `The compute agent of host ${host} has no endpoint registered.`)
  let r: Response
  try {
    r = await fetch(`${node.agent_url.replace(/\/$/, '')}${path}`, { headers: { 'x-auth-token': token }, signal: AbortSignal.timeout(10_000) })
  } catch (e) {
    throw new CloudError('Unavailable', `The compute agent of host ${host} could not be reached: ${(e as Error).message}`)
  }
  const body = await r.json().catch(() => undefined)
  if (!r.ok && r.status !== 404) throw new CloudError('Unavailable', `The compute agent of host ${host} answered ${r.status}.`)
  return { status: r.status, body }
}
