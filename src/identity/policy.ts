import type { Rules } from '../core/policy.ts'

// Keystone's default policies (keystone/common/policies/*), in the form a cloud gets with
// enforce_scope=false: the new reader/member/admin and scope-aware rules, OR'ed with the
// deprecated `admin_required` rules, so a project-scoped admin is the cloud administrator
// (what Tempest, OSC and every deployment tool expect).
const ADMIN = 'rule:admin_required'
const SYS_READER = '(role:reader and system_scope:all)'
const or = (...r: string[]) => r.join(' or ')

export const identityRules: Rules = {
  admin_required: 'role:admin or is_admin:1',
  service_role: 'role:service',
  service_or_admin: 'rule:admin_required or rule:service_role',
  owner: 'user_id:%(user_id)s',
  admin_or_owner: 'rule:admin_required or rule:owner',
  token_subject: 'user_id:%(target.token.user_id)s',
  admin_or_token_subject: 'rule:admin_required or rule:token_subject',
  service_admin_or_token_subject: 'rule:service_or_admin or rule:token_subject',

  // tokens and the auth API
  'identity:check_token': 'rule:service_admin_or_token_subject or ' + SYS_READER,
  'identity:validate_token': 'rule:service_admin_or_token_subject or ' + SYS_READER,
  'identity:revoke_token': 'rule:admin_or_token_subject or (role:admin and system_scope:all)',
  'identity:get_auth_catalog': '@',
  'identity:get_auth_projects': '@',
  'identity:get_auth_domains': '@',
  'identity:get_auth_system': '@',

  // domains
  'identity:get_domain': or(ADMIN, SYS_READER, 'token.domain.id:%(target.domain.id)s',
    'token.project.domain.id:%(target.domain.id)s'),
  'identity:list_domains': or(ADMIN, SYS_READER),
  'identity:create_domain': ADMIN,
  'identity:update_domain': ADMIN,
  'identity:delete_domain': ADMIN,

  // projects
  'identity:get_project': or(ADMIN, SYS_READER, '(role:reader and domain_id:%(target.project.domain_id)s)',
    'project_id:%(target.project.id)s'),
  'identity:list_projects': or(ADMIN, SYS_READER, '(role:reader and domain_id:%(target.domain_id)s)'),
  'identity:list_user_projects': or(ADMIN, SYS_READER, 'rule:owner', '(role:reader and domain_id:%(target.user.domain_id)s)'),
  'identity:create_project': or(ADMIN, '(role:admin and domain_id:%(target.project.domain_id)s)'),
  'identity:update_project': or(ADMIN, '(role:admin and domain_id:%(target.project.domain_id)s)'),
  'identity:delete_project': or(ADMIN, '(role:admin and domain_id:%(target.project.domain_id)s)'),
  'identity:list_project_tags': or(ADMIN, SYS_READER, '(role:reader and domain_id:%(target.project.domain_id)s)',
    'project_id:%(target.project.id)s'),
  'identity:get_project_tag': or(ADMIN, SYS_READER, '(role:reader and domain_id:%(target.project.domain_id)s)',
    'project_id:%(target.project.id)s'),
  'identity:update_project_tags': or(ADMIN, '(role:admin and project_id:%(target.project.id)s)'),
  'identity:create_project_tag': or(ADMIN, '(role:admin and project_id:%(target.project.id)s)'),
  'identity:delete_project_tags': or(ADMIN, '(role:admin and project_id:%(target.project.id)s)'),
  'identity:delete_project_tag': or(ADMIN, '(role:admin and project_id:%(target.project.id)s)'),

  // users
  'identity:get_user': or(ADMIN, SYS_READER, '(role:reader and token.domain.id:%(target.user.domain_id)s)',
    'user_id:%(target.user.id)s'),
  'identity:list_users': or(ADMIN, SYS_READER, '(role:reader and domain_id:%(target.domain_id)s)'),
  'identity:create_user': or(ADMIN, '(role:admin and token.domain.id:%(target.user.domain_id)s)'),
  'identity:update_user': or(ADMIN, '(role:admin and token.domain.id:%(target.user.domain_id)s)'),
  'identity:delete_user': or(ADMIN, '(role:admin and token.domain.id:%(target.user.domain_id)s)'),
  // Changing one's own password is authorised by the original password, not by a role.
  'identity:change_password': '@',

  // groups
  'identity:get_group': or(ADMIN, SYS_READER, '(role:reader and token.domain.id:%(target.group.domain_id)s)'),
  'identity:list_groups': or(ADMIN, SYS_READER, '(role:reader and domain_id:%(target.domain_id)s)'),
  'identity:list_groups_for_user': or(ADMIN, SYS_READER, 'user_id:%(user_id)s', 'user_id:%(target.user.id)s'),
  'identity:create_group': or(ADMIN, '(role:admin and token.domain.id:%(target.group.domain_id)s)'),
  'identity:update_group': or(ADMIN, '(role:admin and token.domain.id:%(target.group.domain_id)s)'),
  'identity:delete_group': or(ADMIN, '(role:admin and token.domain.id:%(target.group.domain_id)s)'),
  'identity:list_users_in_group': or(ADMIN, SYS_READER, '(role:reader and token.domain.id:%(target.group.domain_id)s)'),
  'identity:remove_user_from_group': or(ADMIN, '(role:admin and token.domain.id:%(target.group.domain_id)s)'),
  'identity:check_user_in_group': or(ADMIN, SYS_READER, '(role:reader and token.domain.id:%(target.group.domain_id)s)'),
  'identity:add_user_to_group': or(ADMIN, '(role:admin and token.domain.id:%(target.group.domain_id)s)'),

  // roles, implied roles, grants
  'identity:get_role': or(ADMIN, SYS_READER, 'role:reader'),
  'identity:list_roles': or(ADMIN, SYS_READER, 'role:reader'),
  'identity:create_role': ADMIN,
  'identity:update_role': ADMIN,
  'identity:delete_role': ADMIN,
  'identity:get_domain_role': or(ADMIN, SYS_READER),
  'identity:list_domain_roles': or(ADMIN, SYS_READER),
  'identity:create_domain_role': ADMIN,
  'identity:update_domain_role': ADMIN,
  'identity:delete_domain_role': ADMIN,
  'identity:get_implied_role': or(ADMIN, SYS_READER),
  'identity:list_implied_roles': or(ADMIN, SYS_READER),
  'identity:create_implied_role': ADMIN,
  'identity:delete_implied_role': ADMIN,
  'identity:list_role_inference_rules': or(ADMIN, SYS_READER),
  'identity:check_implied_role': or(ADMIN, SYS_READER),
  'identity:check_grant': or(ADMIN, SYS_READER),
  'identity:list_grants': or(ADMIN, SYS_READER),
  'identity:create_grant': ADMIN,
  'identity:revoke_grant': ADMIN,
  'identity:list_system_grants_for_user': or(ADMIN, SYS_READER),
  'identity:check_system_grant_for_user': or(ADMIN, SYS_READER),
  'identity:create_system_grant_for_user': ADMIN,
  'identity:revoke_system_grant_for_user': ADMIN,
  'identity:list_system_grants_for_group': or(ADMIN, SYS_READER),
  'identity:check_system_grant_for_group': or(ADMIN, SYS_READER),
  'identity:create_system_grant_for_group': ADMIN,
  'identity:revoke_system_grant_for_group': ADMIN,
  'identity:list_role_assignments': or(ADMIN, SYS_READER, '(role:reader and domain_id:%(target.domain_id)s)'),
  'identity:list_role_assignments_for_tree': or(ADMIN, SYS_READER, '(role:reader and domain_id:%(target.project.domain_id)s)'),

  // catalog
  'identity:get_region': '@',
  'identity:list_regions': '@',
  'identity:create_region': ADMIN,
  'identity:update_region': ADMIN,
  'identity:delete_region': ADMIN,
  'identity:get_service': or(ADMIN, SYS_READER),
  'identity:list_services': or(ADMIN, SYS_READER),
  'identity:create_service': ADMIN,
  'identity:update_service': ADMIN,
  'identity:delete_service': ADMIN,
  'identity:get_endpoint': or(ADMIN, SYS_READER),
  'identity:list_endpoints': or(ADMIN, SYS_READER),
  'identity:create_endpoint': ADMIN,
  'identity:update_endpoint': ADMIN,
  'identity:delete_endpoint': ADMIN,

  // credentials (EC2 and others)
  'identity:get_credential': or(ADMIN, SYS_READER, 'user_id:%(target.credential.user_id)s'),
  'identity:list_credentials': or(ADMIN, SYS_READER, 'user_id:%(target.credential.user_id)s'),
  'identity:create_credential': or(ADMIN, 'user_id:%(target.credential.user_id)s'),
  'identity:update_credential': or(ADMIN, 'user_id:%(target.credential.user_id)s'),
  'identity:delete_credential': or(ADMIN, 'user_id:%(target.credential.user_id)s'),
  'identity:ec2_get_credential': or(ADMIN, SYS_READER, 'user_id:%(target.credential.user_id)s'),
  'identity:ec2_list_credentials': or(ADMIN, SYS_READER, 'rule:owner'),
  'identity:ec2_create_credential': or(ADMIN, 'rule:owner'),
  'identity:ec2_delete_credential': or(ADMIN, 'user_id:%(target.credential.user_id)s'),

  // application credentials and access rules
  'identity:get_application_credential': or(ADMIN, SYS_READER, 'rule:owner'),
  'identity:list_application_credentials': or(ADMIN, SYS_READER, 'rule:owner'),
  'identity:create_application_credential': 'rule:owner',
  'identity:delete_application_credential': or(ADMIN, 'rule:owner'),
  'identity:get_access_rule': or(ADMIN, SYS_READER, 'rule:owner'),
  'identity:list_access_rules': or(ADMIN, SYS_READER, 'rule:owner'),
  'identity:delete_access_rule': or(ADMIN, 'rule:owner'),

  // policies (the v3 policy blob store; Keystone deprecated it but still serves it)
  'identity:get_policy': or(ADMIN, SYS_READER),
  'identity:list_policies': or(ADMIN, SYS_READER),
  'identity:create_policy': ADMIN,
  'identity:update_policy': ADMIN,
  'identity:delete_policy': ADMIN,

  // OS-EP-FILTER: endpoint groups and project-endpoint associations
  'identity:list_endpoint_groups': or(ADMIN, SYS_READER),
  'identity:get_endpoint_group': or(ADMIN, SYS_READER),
  'identity:create_endpoint_group': ADMIN,
  'identity:update_endpoint_group': ADMIN,
  'identity:delete_endpoint_group': ADMIN,
  'identity:list_projects_associated_with_endpoint_group': or(ADMIN, SYS_READER),
  'identity:list_endpoints_associated_with_endpoint_group': or(ADMIN, SYS_READER),
  'identity:get_endpoint_group_in_project': or(ADMIN, SYS_READER),
  'identity:list_endpoint_groups_for_project': or(ADMIN, SYS_READER),
  'identity:add_endpoint_group_to_project': ADMIN,
  'identity:remove_endpoint_group_from_project': ADMIN,
  'identity:list_projects_for_endpoint': or(ADMIN, SYS_READER),
  'identity:check_endpoint_in_project': or(ADMIN, SYS_READER),
  'identity:list_endpoints_for_project': or(ADMIN, SYS_READER),
  'identity:add_endpoint_to_project': ADMIN,
  'identity:remove_endpoint_from_project': ADMIN,

  // OS-OAUTH1 consumers
  'identity:get_consumer': or(ADMIN, SYS_READER),
  'identity:list_consumers': or(ADMIN, SYS_READER),
  'identity:create_consumer': ADMIN,
  'identity:update_consumer': ADMIN,
  'identity:delete_consumer': ADMIN,

  // domain-specific configuration
  'identity:get_domain_config': or(ADMIN, SYS_READER),
  'identity:get_domain_config_default': or(ADMIN, SYS_READER),
  'identity:create_domain_config': ADMIN,
  'identity:update_domain_config': ADMIN,
  'identity:delete_domain_config': ADMIN,
  // Keystone's check_str is '' (any authenticated caller): UIs read the password rules.
  'identity:get_security_compliance_domain_config': '@',

  // OS-TRUST (keystone/common/policies/trust.py, new defaults OR'ed with the deprecated ones)
  'identity:create_trust': 'user_id:%(trust.trustor_user_id)s',
  'identity:list_trusts': or(ADMIN, SYS_READER),
  'identity:list_trusts_for_trustor': or(ADMIN, SYS_READER, 'user_id:%(target.trust.trustor_user_id)s'),
  'identity:list_trusts_for_trustee': or(ADMIN, SYS_READER, 'user_id:%(target.trust.trustee_user_id)s'),
  'identity:get_trust': or(ADMIN, SYS_READER, 'user_id:%(target.trust.trustor_user_id)s', 'user_id:%(target.trust.trustee_user_id)s'),
  'identity:delete_trust': or(ADMIN, 'user_id:%(target.trust.trustor_user_id)s'),
  'identity:list_roles_for_trust': or(ADMIN, SYS_READER, 'user_id:%(target.trust.trustor_user_id)s',
    'user_id:%(target.trust.trustee_user_id)s'),
  'identity:get_role_for_trust': or(ADMIN, SYS_READER, 'user_id:%(target.trust.trustor_user_id)s',
    'user_id:%(target.trust.trustee_user_id)s'),
}
