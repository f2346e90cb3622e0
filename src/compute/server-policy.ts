import type { Rules } from '../core/policy.ts'

// Nova's default policies for servers, server metadata and server tags (nova/policies/servers.py,
// server_metadata.py, server_tags.py, extended_server_attributes.py; secure-RBAC defaults). The
// target of a server rule is the server's own project (`project_id`), or the caller's for lists
// and creates, so a member of another project is refused even when it names the server's id.

const ADMIN = 'rule:context_is_admin'
const READER = `${ADMIN} or (role:reader and project_id:%(project_id)s)`
const MEMBER = `${ADMIN} or (role:member and project_id:%(project_id)s)`

/** The servers API's default rules (register them with the policy engine). */
export const serverRules: Rules = {
  'os_compute_api:servers:index': READER,
  'os_compute_api:servers:detail': READER,
  'os_compute_api:servers:index:get_all_tenants': ADMIN,
  'os_compute_api:servers:detail:get_all_tenants': ADMIN,
  'os_compute_api:servers:allow_all_filters': ADMIN,
  'os_compute_api:servers:show': READER,
  'os_compute_api:servers:show:flavor-extra-specs': READER,
  'os_compute_api:servers:show:host_status': ADMIN,
  'os_compute_api:servers:show:host_status:unknown-only': ADMIN,
  'os_compute_api:servers:create': MEMBER,
  'os_compute_api:servers:create:forced_host': ADMIN,
  'os_compute_api:servers:create:requested_destination': ADMIN,
  'os_compute_api:servers:create:attach_volume': MEMBER,
  'os_compute_api:servers:create:attach_network': MEMBER,
  'os_compute_api:servers:create:trusted_certs': MEMBER,
  'os_compute_api:servers:create:zero_disk_flavor': ADMIN,
  'os_compute_api:servers:update': MEMBER,
  'os_compute_api:servers:delete': MEMBER,
  'os_compute_api:os-extended-server-attributes': ADMIN,

  'os_compute_api:server-metadata:index': READER,
  'os_compute_api:server-metadata:show': READER,
  'os_compute_api:server-metadata:create': MEMBER,
  'os_compute_api:server-metadata:update_all': MEMBER,
  'os_compute_api:server-metadata:update': MEMBER,
  'os_compute_api:server-metadata:delete': MEMBER,

  'os_compute_api:os-server-tags:index': READER,
  'os_compute_api:os-server-tags:show': READER,
  'os_compute_api:os-server-tags:update': MEMBER,
  'os_compute_api:os-server-tags:update_all': MEMBER,
  'os_compute_api:os-server-tags:delete': MEMBER,
  'os_compute_api:os-server-tags:delete_all': MEMBER,
}
