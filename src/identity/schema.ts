import type { Kysely } from 'kysely'
import type { Migration } from '../core/db/index.ts'

// Portable schema (SQLite and PostgreSQL): ids TEXT, times ISO TEXT, JSON TEXT,
// booleans INTEGER 0/1. Global (non-domain-specific) roles store domain_id ''.

export interface DomainRow { id: string; name: string; description: string; enabled: number; extra: string; created_at: string }
export interface ProjectRow {
  id: string; name: string; domain_id: string; parent_id: string | null; description: string
  enabled: number; is_domain: number; extra: string; created_at: string
}
export interface ProjectTagRow { project_id: string; tag: string }
export interface UserRow {
  id: string; name: string; domain_id: string; enabled: number; default_project_id: string | null
  description: string; extra: string; options: string; password_hash: string | null
  password_created_at: string | null; password_expires_at: string | null
  failed_auth_count: number; failed_auth_at: string | null; last_active_at: string | null; created_at: string
}
export interface PasswordHistoryRow { id?: number; user_id: string; password_hash: string; created_at: string }
export interface GroupRow { id: string; name: string; domain_id: string; description: string; extra: string; created_at: string }
export interface UserGroupRow { user_id: string; group_id: string }
export interface RoleRow { id: string; name: string; domain_id: string; description: string; options: string; extra: string; created_at: string }
export interface ImpliedRoleRow { prior_role_id: string; implied_role_id: string }
/** type: UserProject | GroupProject | UserDomain | GroupDomain | UserSystem | GroupSystem; system target is 'system'. */
export interface AssignmentRow { type: string; actor_id: string; target_id: string; role_id: string; inherited: number }
export interface RegionRow { id: string; description: string; parent_region_id: string | null; extra: string }
export interface ServiceRow { id: string; type: string; name: string; description: string; enabled: number; extra: string }
export interface EndpointRow { id: string; service_id: string; interface: string; url: string; region_id: string | null; enabled: number; extra: string }
export interface CredentialRow { id: string; user_id: string; project_id: string | null; type: string; blob: string; extra: string; created_at: string }
export interface AppCredRow {
  id: string; name: string; user_id: string; project_id: string | null; system: string | null
  secret_hash: string; description: string; expires_at: string | null; unrestricted: number; created_at: string
}
export interface AppCredRoleRow { app_cred_id: string; role_id: string }
/** An access rule belongs to its user and outlives the application credentials that use it (Keystone). */
export interface AccessRuleRow { id: string; user_id: string; service: string; path: string; method: string }
export interface AppCredAccessRuleRow { app_cred_id: string; access_rule_id: string }
/** A revocation event: tokens matching every non-null field, issued at or before issued_before, are invalid. */
export interface RevocationRow {
  id?: number; audit_id: string | null; user_id: string | null; project_id: string | null
  domain_id: string | null; role_id: string | null; app_cred_id: string | null
  issued_before: string; revoked_at: string
}

export interface PolicyRow { id: string; type: string; blob: string; extra: string }
export interface EndpointGroupRow { id: string; name: string; description: string; filters: string; extra: string }
export interface ProjectEndpointGroupRow { endpoint_group_id: string; project_id: string }
export interface ProjectEndpointRow { endpoint_id: string; project_id: string }
export interface ConsumerRow { id: string; description: string; secret_hash: string; extra: string }
/** Domain-specific configuration options (`/v3/domains/{id}/config`). */
export interface DomainConfigRow { domain_id: string; group_name: string; option_name: string; value: string; sensitive: number }
/**
 * An OS-TRUST trust: the trustor delegates some of its roles on a project to the trustee.
 * Deleting a trust removes the row (and, by cascade, its roles and the trusts redelegated
 * from it); so does deleting its trustor, trustee or project.
 */
export interface TrustRow {
  id: string; trustor_user_id: string; trustee_user_id: string; project_id: string | null
  impersonation: number; expires_at: string | null; remaining_uses: number | null
  redelegated_trust_id: string | null; redelegation_count: number; extra: string; created_at: string
}
/** A role a trust delegates; no foreign key on the role (a deleted role breaks the trust, as in Keystone). */
export interface TrustRoleRow { trust_id: string; role_id: string }

export interface IdentitySchema {
  domains: DomainRow
  projects: ProjectRow
  project_tags: ProjectTagRow
  users: UserRow
  password_history: PasswordHistoryRow
  groups: GroupRow
  user_groups: UserGroupRow
  roles: RoleRow
  implied_roles: ImpliedRoleRow
  assignments: AssignmentRow
  regions: RegionRow
  services: ServiceRow
  endpoints: EndpointRow
  credentials: CredentialRow
  application_credentials: AppCredRow
  app_cred_roles: AppCredRoleRow
  access_rules: AccessRuleRow
  app_cred_access_rules: AppCredAccessRuleRow
  revocation_events: RevocationRow
  policies: PolicyRow
  endpoint_groups: EndpointGroupRow
  project_endpoint_groups: ProjectEndpointGroupRow
  project_endpoints: ProjectEndpointRow
  consumers: ConsumerRow
  domain_configs: DomainConfigRow
  trusts: TrustRow
  trust_roles: TrustRoleRow
}

export const identityMigrations: Migration[] = [{
  version: 1,
  name: 'initial identity schema',
  async up(db: Kysely<any>, engine) {
    // PostgreSQL: serial; SQLite: INTEGER PRIMARY KEY AUTOINCREMENT.
    const autoId = engine === 'postgres' ? 'serial' : 'integer'
    const auto = (c: any) => engine === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()
    const s = db.schema
    await s.createTable('domains')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}'))
      .addColumn('created_at', 'text', (c) => c.notNull()).execute()
    await s.createTable('projects')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('domain_id', 'text', (c) => c.notNull().references('domains.id'))
      .addColumn('parent_id', 'text', (c) => c.references('projects.id'))
      .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('is_domain', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}'))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('projects_domain_name', ['domain_id', 'name']).execute()
    await s.createIndex('projects_parent').on('projects').column('parent_id').execute()
    await s.createTable('project_tags')
      .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
      .addColumn('tag', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('project_tags_pk', ['project_id', 'tag']).execute()
    await s.createTable('users')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('domain_id', 'text', (c) => c.notNull().references('domains.id'))
      .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('default_project_id', 'text')
      .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}'))
      .addColumn('options', 'text', (c) => c.notNull().defaultTo('{}'))
      .addColumn('password_hash', 'text')
      .addColumn('password_created_at', 'text')
      .addColumn('password_expires_at', 'text')
      .addColumn('failed_auth_count', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('failed_auth_at', 'text')
      .addColumn('last_active_at', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('users_domain_name', ['domain_id', 'name']).execute()
    await s.createTable('password_history')
      .addColumn('id', autoId as 'integer', auto)
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('password_hash', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull()).execute()
    await s.createIndex('password_history_user').on('password_history').column('user_id').execute()
    await s.createTable('groups')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('domain_id', 'text', (c) => c.notNull().references('domains.id'))
      .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}'))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('groups_domain_name', ['domain_id', 'name']).execute()
    await s.createTable('user_groups')
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('group_id', 'text', (c) => c.notNull().references('groups.id').onDelete('cascade'))
      .addPrimaryKeyConstraint('user_groups_pk', ['user_id', 'group_id']).execute()
    await s.createIndex('user_groups_group').on('user_groups').column('group_id').execute()
    await s.createTable('roles')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('domain_id', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('options', 'text', (c) => c.notNull().defaultTo('{}'))
      .addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}'))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('roles_domain_name', ['domain_id', 'name']).execute()
    await s.createTable('implied_roles')
      .addColumn('prior_role_id', 'text', (c) => c.notNull().references('roles.id').onDelete('cascade'))
      .addColumn('implied_role_id', 'text', (c) => c.notNull().references('roles.id').onDelete('cascade'))
      .addPrimaryKeyConstraint('implied_roles_pk', ['prior_role_id', 'implied_role_id']).execute()
    await s.createTable('assignments')
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('actor_id', 'text', (c) => c.notNull())
      .addColumn('target_id', 'text', (c) => c.notNull())
      .addColumn('role_id', 'text', (c) => c.notNull().references('roles.id').onDelete('cascade'))
      .addColumn('inherited', 'integer', (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint('assignments_pk', ['type', 'actor_id', 'target_id', 'role_id', 'inherited']).execute()
    await s.createIndex('assignments_actor').on('assignments').column('actor_id').execute()
    await s.createIndex('assignments_target').on('assignments').column('target_id').execute()
    await s.createTable('regions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('parent_region_id', 'text')
      .addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}')).execute()
    await s.createTable('services')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}')).execute()
    await s.createTable('endpoints')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('service_id', 'text', (c) => c.notNull().references('services.id'))
      .addColumn('interface', 'text', (c) => c.notNull())
      .addColumn('url', 'text', (c) => c.notNull())
      .addColumn('region_id', 'text')
      .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}')).execute()
    await s.createTable('credentials')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('project_id', 'text')
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('blob', 'text', (c) => c.notNull())
      .addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}'))
      .addColumn('created_at', 'text', (c) => c.notNull()).execute()
    await s.createIndex('credentials_user').on('credentials').column('user_id').execute()
    await s.createTable('application_credentials')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('project_id', 'text')
      .addColumn('system', 'text')
      .addColumn('secret_hash', 'text', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('expires_at', 'text')
      .addColumn('unrestricted', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('app_creds_user_name', ['user_id', 'name']).execute()
    await s.createTable('app_cred_roles')
      .addColumn('app_cred_id', 'text', (c) => c.notNull().references('application_credentials.id').onDelete('cascade'))
      .addColumn('role_id', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('app_cred_roles_pk', ['app_cred_id', 'role_id']).execute()
    await s.createTable('access_rules')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('service', 'text', (c) => c.notNull())
      .addColumn('path', 'text', (c) => c.notNull())
      .addColumn('method', 'text', (c) => c.notNull())
      .addUniqueConstraint('access_rules_user_rule', ['user_id', 'service', 'path', 'method']).execute()
    await s.createTable('app_cred_access_rules')
      .addColumn('app_cred_id', 'text', (c) => c.notNull().references('application_credentials.id').onDelete('cascade'))
      .addColumn('access_rule_id', 'text', (c) => c.notNull().references('access_rules.id').onDelete('cascade'))
      .addPrimaryKeyConstraint('app_cred_access_rules_pk', ['app_cred_id', 'access_rule_id']).execute()
    await s.createTable('revocation_events')
      .addColumn('id', autoId as 'integer', auto)
      .addColumn('audit_id', 'text')
      .addColumn('user_id', 'text')
      .addColumn('project_id', 'text')
      .addColumn('domain_id', 'text')
      .addColumn('role_id', 'text')
      .addColumn('app_cred_id', 'text')
      .addColumn('issued_before', 'text', (c) => c.notNull())
      .addColumn('revoked_at', 'text', (c) => c.notNull()).execute()
  },
}, {
  version: 2,
  name: 'policies, endpoint groups, OAuth1 consumers, domain configuration',
  async up(db: Kysely<any>) {
    const s = db.schema
    await s.createTable('policies')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('blob', 'text', (c) => c.notNull())
      .addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}')).execute()
    await s.createTable('endpoint_groups')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('filters', 'text', (c) => c.notNull().defaultTo('{}'))
      .addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}')).execute()
    await s.createTable('project_endpoint_groups')
      .addColumn('endpoint_group_id', 'text', (c) => c.notNull().references('endpoint_groups.id').onDelete('cascade'))
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('project_endpoint_groups_pk', ['endpoint_group_id', 'project_id']).execute()
    await s.createTable('project_endpoints')
      .addColumn('endpoint_id', 'text', (c) => c.notNull())
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('project_endpoints_pk', ['endpoint_id', 'project_id']).execute()
    await s.createTable('consumers')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('secret_hash', 'text', (c) => c.notNull())
      .addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}')).execute()
    await s.createTable('domain_configs')
      .addColumn('domain_id', 'text', (c) => c.notNull())
      .addColumn('group_name', 'text', (c) => c.notNull())
      .addColumn('option_name', 'text', (c) => c.notNull())
      .addColumn('value', 'text', (c) => c.notNull())
      .addColumn('sensitive', 'integer', (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint('domain_configs_pk', ['domain_id', 'group_name', 'option_name']).execute()
  },
}, {
  version: 3,
  name: 'OS-TRUST trusts',
  async up(db: Kysely<any>) {
    const s = db.schema
    await s.createTable('trusts')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('trustor_user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('trustee_user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('project_id', 'text', (c) => c.references('projects.id').onDelete('cascade'))
      .addColumn('impersonation', 'integer', (c) => c.notNull())
      .addColumn('expires_at', 'text')
      .addColumn('remaining_uses', 'integer')
      .addColumn('redelegated_trust_id', 'text', (c) => c.references('trusts.id').onDelete('cascade'))
      .addColumn('redelegation_count', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}'))
      .addColumn('created_at', 'text', (c) => c.notNull())
      // Keystone's duplicate_trust_constraint.
      .addUniqueConstraint('trusts_duplicate', ['trustor_user_id', 'trustee_user_id', 'project_id', 'impersonation', 'expires_at'])
      .execute()
    await s.createIndex('trusts_trustee').on('trusts').column('trustee_user_id').execute()
    await s.createIndex('trusts_redelegated').on('trusts').column('redelegated_trust_id').execute()
    await s.createTable('trust_roles')
      .addColumn('trust_id', 'text', (c) => c.notNull().references('trusts.id').onDelete('cascade'))
      .addColumn('role_id', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('trust_roles_pk', ['trust_id', 'role_id']).execute()
  },
}]
