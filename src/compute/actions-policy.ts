import type { Rules } from '../core/policy.ts'

// Nova's default policies (nova/policies/*.py, secure-RBAC defaults) for server actions,
// instance actions, server groups, availability zones, hypervisors, services and usage.
// Targets: `project_id` is the server's (or group's) project, `user_id` its user.

const ADMIN = 'rule:context_is_admin'
const PROJECT_MEMBER = 'role:member and project_id:%(project_id)s'
const PROJECT_READER = 'role:reader and project_id:%(project_id)s'
const PROJECT_MEMBER_OR_ADMIN = `${ADMIN} or (${PROJECT_MEMBER})`
const PROJECT_READER_OR_ADMIN = `${ADMIN} or (${PROJECT_READER})`

/** The rules of the server actions and the admin/read APIs around servers. */
export const actionRules: Rules = {
  'os_compute_api:servers:start': PROJECT_MEMBER_OR_ADMIN,
  'os_compute_api:servers:stop': PROJECT_MEMBER_OR_ADMIN,
  'os_compute_api:servers:reboot': PROJECT_MEMBER_OR_ADMIN,
  'os_compute_api:servers:rebuild': PROJECT_MEMBER_OR_ADMIN,
  'os_compute_api:servers:resize': PROJECT_MEMBER_OR_ADMIN,
  'os_compute_api:servers:confirm_resize': PROJECT_MEMBER_OR_ADMIN,
  'os_compute_api:servers:revert_resize': PROJECT_MEMBER_OR_ADMIN,
  'os_compute_api:servers:create_image': PROJECT_MEMBER_OR_ADMIN,
  'os_compute_api:os-create-backup': PROJECT_MEMBER_OR_ADMIN,
  'os_compute_api:os-pause-server:pause': PROJECT_MEMBER_OR_ADMIN,
  'os_compute_api:os-pause-server:unpause': PROJECT_MEMBER_OR_ADMIN,
  'os_compute_api:os-suspend-server:suspend': PROJECT_MEMBER_OR_ADMIN,
  'os_compute_api:os-suspend-server:resume': PROJECT_MEMBER_OR_ADMIN,
  'os_compute_api:os-lock-server:lock': PROJECT_MEMBER_OR_ADMIN,
  'os_compute_api:os-lock-server:unlock': PROJECT_MEMBER_OR_ADMIN,
  // Unlocking a server an admin locked (locked_by 'admin').
  'os_compute_api:os-lock-server:unlock:unlock_override': ADMIN,
  'os_compute_api:os-admin-actions:reset_state': ADMIN,
  'os_compute_api:os-console-output': PROJECT_MEMBER_OR_ADMIN,
  'os_compute_api:os-remote-consoles': PROJECT_MEMBER_OR_ADMIN,
  'os_compute_api:os-deferred-delete:restore': PROJECT_MEMBER_OR_ADMIN,
  'os_compute_api:os-deferred-delete:force': PROJECT_MEMBER_OR_ADMIN,

  'os_compute_api:os-instance-actions:list': PROJECT_READER_OR_ADMIN,
  'os_compute_api:os-instance-actions:show': PROJECT_READER_OR_ADMIN,
  'os_compute_api:os-instance-actions:events': ADMIN,
  'os_compute_api:os-instance-actions:events:details': ADMIN,

  'os_compute_api:os-server-groups:create': PROJECT_MEMBER,
  'os_compute_api:os-server-groups:delete': PROJECT_MEMBER_OR_ADMIN,
  'os_compute_api:os-server-groups:index': PROJECT_READER_OR_ADMIN,
  'os_compute_api:os-server-groups:index:all_projects': ADMIN,
  'os_compute_api:os-server-groups:show': PROJECT_READER_OR_ADMIN,

  'os_compute_api:os-availability-zone:list': '@',
  'os_compute_api:os-availability-zone:detail': ADMIN,
  'os_compute_api:os-hypervisors:list': ADMIN,
  'os_compute_api:os-hypervisors:list-detail': ADMIN,
  'os_compute_api:os-hypervisors:statistics': ADMIN,
  'os_compute_api:os-hypervisors:show': ADMIN,
  'os_compute_api:os-hypervisors:uptime': ADMIN,
  'os_compute_api:os-hypervisors:search': ADMIN,
  'os_compute_api:os-hypervisors:servers': ADMIN,
  'os_compute_api:os-services:list': ADMIN,
  'os_compute_api:os-services:update': ADMIN,
  'os_compute_api:os-services:delete': ADMIN,
  'os_compute_api:os-simple-tenant-usage:show': PROJECT_READER_OR_ADMIN,
  'os_compute_api:os-simple-tenant-usage:list': ADMIN,
}
