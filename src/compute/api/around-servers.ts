import type { Api } from '../../core/http/app.ts'
import { actionRules } from '../actions-policy.ts'
import type { ComputeCtx } from '../context.ts'
import type { QuotaService } from '../quotas.ts'
import { ServerActionService } from '../server-actions.ts'
import { ServerGroupService } from '../server-groups.ts'
import { ServerOpsService } from '../server-ops.ts'
import { hostRoutes } from './hosts.ts'
import { instanceActionRoutes } from './instance-actions.ts'
import { serverActionRoutes } from './server-actions.ts'
import { serverGroupRoutes } from './server-groups.ts'
import { usageRoutes } from './usage.ts'

/**
 * Everything around servers that is not the servers resource itself: server actions, remote
 * consoles, instance actions, server groups, availability zones, hypervisors, services and
 * usage; registers their default policies. One call from index.ts.
 */
export function aroundServerRoutes(api: Api, c: ComputeCtx, quotas: QuotaService, P: string): void {
  c.policy.register(actionRules)
  const actions = new ServerActionService(c)
  serverActionRoutes(api, c, actions, new ServerOpsService(c, actions), P)
  instanceActionRoutes(api, c, actions, P)
  serverGroupRoutes(api, c, new ServerGroupService(c, quotas), P)
  hostRoutes(api, c, P)
  usageRoutes(api, c, P)
}
