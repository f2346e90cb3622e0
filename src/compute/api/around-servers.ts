import type { Api } from '../../core/http/app.ts'
import { actionRules } from '../actions-policy.ts'
import type { ComputeCtx } from '../context.ts'
import type { QuotaService } from '../quotas.ts'
import { ServerActionService } from '../server-actions.ts'
import { ServerGroupService } from '../server-groups.ts'
import { ServerOpsService } from '../server-ops.ts'
import { ServerService } from '../servers.ts'
import { aggregateRoutes } from './aggregates.ts'
import { migrationRoutes } from './migrations.ts'
import { extensionRoutes } from './extensions.ts'
import { externalEventRoutes } from './external-events.ts'
import { hostRoutes } from './hosts.ts'
import { imageProxyRoutes } from './images.ts'
import { instanceActionRoutes } from './instance-actions.ts'
import { osHostRoutes } from './os-hosts.ts'
import { serverActionRoutes } from './server-actions.ts'
import { serverGroupRoutes } from './server-groups.ts'
import { serverIpsRoutes } from './server-ips.ts'
import { usageAuditLogRoutes } from './usage-audit-log.ts'
import { usageRoutes } from './usage.ts'

/**
 * Everything around servers that is not the servers resource itself: server actions, remote
 * consoles, addresses and password, external events and diagnostics, instance actions, server
 * groups, availability zones, hypervisors, services, os-hosts, the image proxy, the extension
 * list, usage and the usage audit log; registers their default policies. One call from index.ts.
 */
export function aroundServerRoutes(api: Api, c: ComputeCtx, quotas: QuotaService, P: string): void {
  c.policy.register(actionRules)
  const actions = new ServerActionService(c)
  const servers = new ServerService(c, quotas)
  serverActionRoutes(api, c, actions, new ServerOpsService(c, actions, quotas), servers, P)
  serverIpsRoutes(api, c, servers, P)
  externalEventRoutes(api, c, servers, P)
  instanceActionRoutes(api, c, actions, P)
  serverGroupRoutes(api, c, new ServerGroupService(c, quotas), P)
  hostRoutes(api, c, P)
  aggregateRoutes(api, c, P)
  migrationRoutes(api, c, P)
  osHostRoutes(api, c, P)
  imageProxyRoutes(api, c, quotas, P)
  extensionRoutes(api, P)
  usageAuditLogRoutes(api, c, P)
  usageRoutes(api, c, P)
}
