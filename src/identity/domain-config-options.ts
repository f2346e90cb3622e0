import { CloudError } from '../core/errors.ts'

// Which domain-specific configuration options the API accepts, and their defaults: Keystone's
// DomainConfigManager whitelist (keystone/resource/core.py) with the defaults of
// keystone/conf/identity.py and keystone/conf/ldap.py. Cumulo has no LDAP driver: a domain's
// configuration is stored and returned as Keystone does, but it has no effect on how that
// domain's users authenticate (they are always in Cumulo's SQL store).

/** Options returned by the API, with the value a domain gets when it does not set them. */
export const DEFAULTS: Record<string, Record<string, unknown>> = {
  // Cumulo's identity backend is SQL and it applies no list limit.
  identity: { driver: 'sql', list_limit: null },
  ldap: {
    url: 'ldap://localhost', user: null, suffix: 'cn=example,cn=com', query_scope: 'one', page_size: 0,
    alias_dereferencing: 'default', debug_level: null, chase_referrals: null,
    user_tree_dn: null, user_filter: null, user_objectclass: 'inetOrgPerson', user_id_attribute: 'cn',
    user_name_attribute: 'sn', user_mail_attribute: 'mail', user_description_attribute: 'description',
    user_pass_attribute: 'userPassword', user_enabled_attribute: 'enabled', user_enabled_invert: false,
    user_enabled_mask: 0, user_enabled_default: 'True', user_attribute_ignore: ['default_project_id'],
    user_default_project_id_attribute: null, user_enabled_emulation: false, user_enabled_emulation_dn: null,
    user_enabled_emulation_use_group_config: false, user_additional_attribute_mapping: [],
    group_tree_dn: null, group_filter: null, group_objectclass: 'groupOfNames', group_id_attribute: 'cn',
    group_name_attribute: 'ou', group_members_are_ids: false, group_member_attribute: 'member',
    group_desc_attribute: 'description', group_attribute_ignore: [], group_additional_attribute_mapping: [],
    tls_cacertfile: null, tls_cacertdir: null, use_tls: false, tls_req_cert: 'demand',
    use_pool: true, pool_size: 10, pool_retry_max: 3, pool_retry_delay: 0.1, pool_connection_timeout: -1,
    pool_connection_lifetime: 600, use_auth_pool: true, auth_pool_size: 100, auth_pool_connection_lifetime: 60,
  },
}

/** Options accepted and stored but never returned (Keystone's sensitive_options). */
export const SENSITIVE: Record<string, string[]> = { identity: [], ldap: ['password'] }

/** The security_compliance options anyone may read, for the default domain only. */
export const READABLE_COMPLIANCE = ['password_regex', 'password_regex_description']

const has = (o: object, k: string) => Object.hasOwn(o, k)

export const isSensitive = (group: string, option: string): boolean =>
  has(SENSITIVE, group) && SENSITIVE[group]!.includes(option)

/** True when the option is one the API returns (not sensitive). */
export const isWhitelisted = (group: string, option: string): boolean =>
  has(DEFAULTS, group) && has(DEFAULTS[group]!, option)

/** Keystone's InvalidDomainConfig (a 403). */
export function invalidConfig(reason: string): CloudError {
  return new CloudError('Forbidden', `Invalid domain specific configuration: ${reason}.`)
}

/** Keystone's DomainConfigNotFound. */
export function configNotFound(domainId: string, group?: string, option?: string): CloudError {
  const what = option ? `option ${option} in group ${group}` : group ? `group ${group}` : 'any options'
  return new CloudError('NotFound', `Could not find ${what} in domain configuration for domain ${domainId}.`)
}

/** `_assert_valid_group_and_option`: the group and option, when given, must be supported. */
export function assertValidGroupOption(group?: string, option?: string): void {
  if (!group) return
  if (!has(DEFAULTS, group) && !has(SENSITIVE, group)) {
    throw invalidConfig(`Group ${group} is not supported for domain specific configurations`)
  }
  if (option && !isWhitelisted(group, option) && !isSensitive(group, option)) {
    throw invalidConfig(`Option ${option} in group ${group} is not supported for domain specific configurations`)
  }
}

/** A request's config: groups of options. */
export type DomainConfig = Record<string, Record<string, unknown>>

/** `_assert_valid_config`: something is set, every group is a non-empty object of supported options. */
export function assertValidConfig(config: Record<string, unknown>): asserts config is DomainConfig {
  if (Object.keys(config).length === 0) throw invalidConfig('No options specified')
  for (const [group, options] of Object.entries(config)) {
    if (!options || typeof options !== 'object' || Array.isArray(options) || Object.keys(options).length === 0) {
      throw invalidConfig(`The value of group ${group} specified in the config should be a dictionary of options`)
    }
    for (const option of Object.keys(options)) assertValidGroupOption(group, option)
  }
}
