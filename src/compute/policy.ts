import type { Rules } from '../core/policy.ts'

// Nova's default policies (nova/policies/*.py, secure-RBAC defaults) for the resources this
// service implements. Targets: `project_id` is the project a request is about (the caller's
// unless it names another), `user_id` the user a key pair belongs to.

const ADMIN = 'rule:context_is_admin'
const PROJECT_READER_OR_ADMIN = `${ADMIN} or (role:reader and project_id:%(project_id)s)`

/** The compute service's default rules; operators may override any of them. */
export const computeRules: Rules = {
  context_is_admin: 'role:admin',
  admin_api: 'role:admin',
  // Nova puts no policy on flavor list/show or on version-independent reads: any
  // authenticated caller. Named here so every route still states its rule.
  'compute:authenticated': '@',
  // The compute agents' API (docs/compute.md "Agent API"): each host's own service user.
  'compute:agent': 'role:admin or role:service',

  'os_compute_api:os-flavor-manage:create': ADMIN,
  'os_compute_api:os-flavor-manage:update': ADMIN,
  'os_compute_api:os-flavor-manage:delete': ADMIN,
  'os_compute_api:os-flavor-extra-specs:index': PROJECT_READER_OR_ADMIN,
  'os_compute_api:os-flavor-extra-specs:show': PROJECT_READER_OR_ADMIN,
  'os_compute_api:os-flavor-extra-specs:create': ADMIN,
  'os_compute_api:os-flavor-extra-specs:update': ADMIN,
  'os_compute_api:os-flavor-extra-specs:delete': ADMIN,
  'os_compute_api:os-flavor-access': ADMIN,
  'os_compute_api:os-flavor-access:add_tenant_access': ADMIN,
  'os_compute_api:os-flavor-access:remove_tenant_access': ADMIN,

  'os_compute_api:os-keypairs:index': `${ADMIN} or user_id:%(user_id)s`,
  'os_compute_api:os-keypairs:create': `${ADMIN} or user_id:%(user_id)s`,
  'os_compute_api:os-keypairs:delete': `${ADMIN} or user_id:%(user_id)s`,
  'os_compute_api:os-keypairs:show': `${ADMIN} or user_id:%(user_id)s`,

  'os_compute_api:limits': '@',
  'os_compute_api:limits:other_project': ADMIN,

  'os_compute_api:os-quota-sets:show': PROJECT_READER_OR_ADMIN,
  'os_compute_api:os-quota-sets:update': ADMIN,
  'os_compute_api:os-quota-sets:defaults': '@',
  'os_compute_api:os-quota-sets:delete': ADMIN,
  'os_compute_api:os-quota-sets:detail': PROJECT_READER_OR_ADMIN,
  'os_compute_api:os-quota-class-sets:show': ADMIN,
  'os_compute_api:os-quota-class-sets:update': ADMIN,
}
