import { Type } from 'typebox'
import type { Api } from '../../core/http/app.ts'
import type { IdentityCtx } from '../context.ts'
import {
  DEFAULTS, type DomainConfig, READABLE_COMPLIANCE, assertValidConfig, assertValidGroupOption, configNotFound,
  invalidConfig, isSensitive,
} from '../domain-config-options.ts'
import type { DomainConfigRow } from '../schema.ts'
import { notFoundError } from './common.ts'

// Domain-specific configuration (keystone/api/domains.py, DomainConfigManager in
// keystone/resource/core.py): per-domain `identity` and `ldap` options, stored and returned
// as Keystone does. NOTE: Cumulo has no LDAP driver, so this configuration has no effect on
// authentication; every domain's users live in Cumulo's own SQL store.

const Id = Type.String({ minLength: 1, maxLength: 255 })
const DomainParams = Type.Object({ domain_id: Id })
const GroupParams = Type.Object({ domain_id: Id, group: Id })
const OptionParams = Type.Object({ domain_id: Id, group: Id, option: Id })
// Which groups and options are valid is checked by hand: Keystone answers 403, not 400.
const ConfigBody = Type.Object({ config: Type.Optional(Type.Record(Type.String(), Type.Unknown())) })

type Params = { domain_id: string; group?: string; option?: string }

export function domainConfigRoutes(api: Api, c: IdentityCtx): void {
  const db = c.db

  async function requireDomain(id: string): Promise<void> {
    if (!(await db.selectFrom('domains').select('id').where('id', '=', id).executeTakeFirst())) throw notFoundError('domain', id)
  }

  async function rows(domainId: string, o: { group?: string; option?: string; sensitive?: boolean } = {}): Promise<DomainConfigRow[]> {
    let q = db.selectFrom('domain_configs').selectAll().where('domain_id', '=', domainId)
    if (o.group) q = q.where('group_name', '=', o.group)
    if (o.group && o.option) q = q.where('option_name', '=', o.option)
    if (o.sensitive === false) q = q.where('sensitive', '=', 0)
    return q.orderBy('group_name').orderBy('option_name').execute()
  }

  const value = (r: DomainConfigRow): unknown => JSON.parse(r.value)

  /** Keystone's get_config: the non-sensitive options, 404 when there are none. */
  async function getConfig(domainId: string, group?: string, option?: string) {
    assertValidGroupOption(group, option)
    const found = await rows(domainId, { group, option, sensitive: false })
    if (found.length === 0) throw configNotFound(domainId, group, option)
    if (option) return { [option]: value(found[0]!) }
    const out: Record<string, Record<string, unknown>> = {}
    for (const r of found) (out[r.group_name] ??= {})[r.option_name] = value(r)
    return out
  }

  /** Writes options, replacing any with the same group and name; runs in the caller's transaction. */
  async function writeOptions(tx: typeof db, domainId: string, config: DomainConfig): Promise<void> {
    for (const [group, options] of Object.entries(config)) {
      for (const [option, v] of Object.entries(options)) {
        await tx.deleteFrom('domain_configs').where('domain_id', '=', domainId)
          .where('group_name', '=', group).where('option_name', '=', option).execute()
        await tx.insertInto('domain_configs').values({ domain_id: domainId, group_name: group, option_name: option,
          value: JSON.stringify(v), sensitive: isSensitive(group, option) ? 1 : 0 }).execute()
      }
    }
  }

  const configOf = (body: unknown): Record<string, unknown> => (body as { config?: Record<string, unknown> } | undefined)?.config ?? {}

  // --- Keystone's defaults ---

  const defaults = (group?: string, option?: string) => {
    assertValidGroupOption(group, option)
    if (group && option) {
      if (!Object.hasOwn(DEFAULTS[group] ?? {}, option)) {
        throw invalidConfig(`Reading the default for option ${option} in group ${group} is not supported`)
      }
      return { config: { [option]: DEFAULTS[group]![option] } }
    }
    if (group) return { config: { [group]: DEFAULTS[group] ?? {} } }
    return { config: DEFAULTS }
  }
  const dflt = { config: { policy: 'identity:get_domain_config_default' } }
  api.get('/v3/domains/config/default', dflt, async () => defaults())
  api.get('/v3/domains/config/:group/default', { ...dflt, schema: { params: Type.Object({ group: Id }) } },
    async (req) => defaults((req.params as { group: string }).group))
  api.get('/v3/domains/config/:group/:option/default', { ...dflt, schema: { params: Type.Object({ group: Id, option: Id }) } },
    async (req) => { const p = req.params as { group: string; option: string }; return defaults(p.group, p.option) })

  // --- security_compliance: read-only, the default domain only ---

  const compliance = async (domainId: string, option?: string) => {
    await requireDomain(domainId)
    if (domainId !== 'default') {
      throw invalidConfig('Reading security compliance information for any domain other than the default domain is not allowed or supported')
    }
    if (option && !READABLE_COMPLIANCE.includes(option)) {
      throw invalidConfig('Reading security compliance values other than password_regex and password_regex_description is not allowed')
    }
    // Cumulo enforces no password regular expression: both options are unset.
    if (option) return { config: { [option]: null } }
    return { config: { security_compliance: { password_regex: null, password_regex_description: null } } }
  }
  const sc = { config: { policy: 'identity:get_security_compliance_domain_config' } }
  api.get('/v3/domains/:domain_id/config/security_compliance', { ...sc, schema: { params: DomainParams } },
    async (req) => compliance((req.params as Params).domain_id))
  api.get('/v3/domains/:domain_id/config/security_compliance/:option', { ...sc, schema: { params: Type.Object({ domain_id: Id, option: Id }) } },
    async (req) => { const p = req.params as { domain_id: string; option: string }; return compliance(p.domain_id, p.option) })

  // --- a domain's configuration ---

  api.put('/v3/domains/:domain_id/config', {
    schema: { params: DomainParams, body: ConfigBody }, config: { policy: 'identity:create_domain_config' },
  }, async (req, reply) => {
    const { domain_id } = req.params as Params
    await requireDomain(domain_id)
    const config = configOf(req.body)
    assertValidConfig(config)
    const existed = (await rows(domain_id)).length > 0
    // Creating replaces the whole configuration (no 409), as Keystone does.
    await db.transaction().execute(async (tx) => {
      await tx.deleteFrom('domain_configs').where('domain_id', '=', domain_id).execute()
      await writeOptions(tx, domain_id, config)
    })
    const out: Record<string, Record<string, unknown>> = {}
    for (const r of await rows(domain_id, { sensitive: false })) (out[r.group_name] ??= {})[r.option_name] = value(r)
    reply.code(existed ? 200 : 201)
    return { config: out }
  })

  const read = async (p: Params) => {
    await requireDomain(p.domain_id)
    return { config: await getConfig(p.domain_id, p.group, p.option) }
  }

  /** Keystone's update_config: merge; a group or option in the URL must be the only one given and exist. */
  const update = async (p: Params, body: unknown) => {
    await requireDomain(p.domain_id)
    const given = configOf(body)
    const { group, option } = p
    const config = group && option ? { [group]: given } : given
    assertValidConfig(config)
    assertValidGroupOption(group, option)
    if (group) {
      const inGroup = config[group]
      if (Object.keys(config).length !== 1 || (option && Object.keys(inGroup ?? {}).length !== 1)) {
        throw invalidConfig(option
          ? `Trying to update option ${option} in group ${group}, so that, and only that, option must be specified  in the config`
          : `Trying to update group ${group}, so that, and only that, group must be specified in the config`)
      }
      if (!inGroup) {
        throw invalidConfig(`request to update group ${group}, but config provided contains group ${Object.keys(config)[0]} instead`)
      }
      if (option && !Object.hasOwn(inGroup, option)) {
        throw invalidConfig(`Trying to update option ${option} in group ${group}, but config provided contains option ` +
          `${Object.keys(inGroup)[0]} instead`)
      }
      if ((await rows(p.domain_id, { group, option })).length === 0) throw configNotFound(p.domain_id, group, option)
    }
    await db.transaction().execute((tx) => writeOptions(tx, p.domain_id, config))
    return { config: await getConfig(p.domain_id) }
  }

  const remove = async (p: Params) => {
    await requireDomain(p.domain_id)
    const { group, option } = p
    assertValidGroupOption(group, option)
    if (group && (await rows(p.domain_id, { group, option })).length === 0) throw configNotFound(p.domain_id, group, option)
    let q = db.deleteFrom('domain_configs').where('domain_id', '=', p.domain_id)
    if (group) q = q.where('group_name', '=', group)
    if (group && option) q = q.where('option_name', '=', option)
    await q.execute()
  }

  for (const [path, params] of [
    ['/v3/domains/:domain_id/config', DomainParams],
    ['/v3/domains/:domain_id/config/:group', GroupParams],
    ['/v3/domains/:domain_id/config/:group/:option', OptionParams],
  ] as const) {
    api.get(path, { schema: { params }, config: { policy: 'identity:get_domain_config' } },
      async (req) => read(req.params as Params))
    api.patch(path, { schema: { params, body: ConfigBody }, config: { policy: 'identity:update_domain_config' } },
      async (req) => update(req.params as Params, req.body))
    api.delete(path, { schema: { params }, config: { policy: 'identity:delete_domain_config' } },
      async (req, reply) => { await remove(req.params as Params); reply.code(204).send() })
  }
}
