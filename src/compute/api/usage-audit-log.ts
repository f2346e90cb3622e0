import type { Rules } from '../../core/policy.ts'
import type { Api } from '../../core/http/app.ts'
import { badRequest } from '../../core/errors.ts'
import type { ComputeCtx } from '../context.ts'

// os-instance_usage_audit_log (nova/api/openstack/compute/instance_usage_audit_log.py): how far
// the compute hosts got with the periodic instance usage audit of the last completed period
// (a month, Nova's default instance_usage_audit_period). This cloud runs no such audit, so no
// task logs exist: every compute host is reported as not run, as Nova reports hosts whose
// audit has not run.

const ADMIN = 'rule:context_is_admin'

/** Nova's default rules (nova/policies/instance_usage_audit_log.py). */
export const usageAuditLogRules: Rules = {
  'os_compute_api:os-instance-usage-audit-log:list': ADMIN,
  'os_compute_api:os-instance-usage-audit-log:show': ADMIN,
}

/** Python's str(datetime) of a UTC time without microseconds: "YYYY-MM-DD HH:MM:SS". */
function pyTime(d: Date): string {
  return d.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, '')
}

/** The monthly audit period most recently completed before `before` (nova/utils.py last_completed_audit_period). */
export function lastCompletedMonth(before: Date): { begin: Date; end: Date } {
  const end = new Date(Date.UTC(before.getUTCFullYear(), before.getUTCMonth(), 1))
  const begin = new Date(Date.UTC(end.getUTCFullYear(), end.getUTCMonth() - 1, 1))
  return { begin, end }
}

/** Parses Nova's "%Y-%m-%d %H:%M:%S[.%f]" (UTC); undefined when it does not match. */
function parseBefore(s: string): Date | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?$/.exec(s)
  if (!m) return undefined
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number]
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, se))
  return t.getUTCMonth() === mo - 1 && t.getUTCDate() === d && h < 24 && mi < 60 && se < 60 ? t : undefined
}

/** Wires GET /os-instance_usage_audit_log and /os-instance_usage_audit_log/{before}. */
export function usageAuditLogRoutes(api: Api, c: ComputeCtx, P: string): void {
  c.policy.register(usageAuditLogRules)
  async function report(before: Date) {
    const { begin, end } = lastCompletedMonth(before)
    const hosts = [...new Set((await c.db.selectFrom('services').select('host').where('binary', '=', 'nova-compute').execute()).map((s) => s.host))]
    return {
      period_beginning: pyTime(begin), period_ending: pyTime(end), num_hosts: hosts.length, num_hosts_done: 0,
      num_hosts_running: 0, num_hosts_not_run: hosts.length, hosts_not_run: hosts, total_instances: 0, total_errors: 0,
      overall_status: `${hosts.length === 0 ? 'ALL' : `0 of ${hosts.length}`} hosts done. 0 errors.`, log: {},
    }
  }
  api.get(`${P}/os-instance_usage_audit_log`, { config: { policy: 'os_compute_api:os-instance-usage-audit-log:list' } },
    async () => ({ instance_usage_audit_logs: await report(new Date(c.clock.now())) }))
  api.get(`${P}/os-instance_usage_audit_log/:before`, { config: { policy: 'os_compute_api:os-instance-usage-audit-log:show' } }, async (req) => {
    const raw = (req.params as { before: string }).before
    const before = parseBefore(raw)
    if (!before) throw badRequest(`Invalid timestamp for date ${raw}`)
    return { instance_usage_audit_log: await report(before) }
  })
}
