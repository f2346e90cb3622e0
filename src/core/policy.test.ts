import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { AuthContext } from './auth.ts'
import { CloudError } from './errors.ts'
import { PolicyEngine, parse } from './policy.ts'

/** A project-scoped caller; override any field. */
function ctx(over: Partial<AuthContext> & { roleNames?: string[] } = {}): AuthContext {
  const { roleNames = [], ...rest } = over
  return {
    userId: 'u1', userName: 'alice', userDomainId: 'd1', userDomainName: 'Default',
    projectId: 'p1', projectName: 'demo', projectDomainId: 'd1', projectDomainName: 'Default',
    roles: roleNames.map((name, i) => ({ id: `r${i}`, name })),
    isAdminProject: false, methods: ['password'], auditIds: ['a1'],
    issuedAt: 0, expiresAt: 3600_000,
    ...rest,
  }
}

/** True when a caller with these roles passes a one-off rule. */
function allows(rule: string, c: AuthContext | undefined, target: Record<string, unknown> = {}): boolean {
  return new PolicyEngine({ r: rule }).check('r', c, target)
}
const withRoles = (...roleNames: string[]) => ctx({ roleNames })

// Substitutions `%(...)s` keep their parentheses: they are not grouping (oslo.policy's tokenizer).

describe('policy: constants and roles', () => {
  it('@ always passes, ! never does, an empty rule passes', () => {
    assert.equal(allows('@', ctx()), true)
    assert.equal(allows('!', ctx()), false)
    assert.equal(allows('', ctx()), true)
  })
  it('role: matches a role the caller holds, case-insensitively', () => {
    assert.equal(allows('role:admin', withRoles('admin')), true)
    assert.equal(allows('role:Admin', withRoles('admin')), true)
    assert.equal(allows('role:admin', withRoles('ADMIN')), true)
    assert.equal(allows('role:admin', withRoles('member', 'reader')), false)
    assert.equal(allows('role:admin', ctx()), false)
  })
  it('no caller never passes, not even @', () => {
    assert.equal(allows('@', undefined), false)
  })
})

describe('policy: and / or / not', () => {
  it('and binds tighter than or', () => {
    const rule = 'role:a or role:b and role:c'
    assert.equal(allows(rule, withRoles('a')), true)
    assert.equal(allows(rule, withRoles('b')), false)
    assert.equal(allows(rule, withRoles('c')), false)
    assert.equal(allows(rule, withRoles('b', 'c')), true)
    assert.deepEqual(parse(rule), {
      t: 'or', a: [
        { t: 'check', kind: 'role', match: 'a' },
        { t: 'and', a: [{ t: 'check', kind: 'role', match: 'b' }, { t: 'check', kind: 'role', match: 'c' }] },
      ],
    })
  })
  it('not binds tighter than and', () => {
    const rule = 'not role:a and role:b'
    assert.equal(allows(rule, withRoles('b')), true)
    assert.equal(allows(rule, withRoles('a', 'b')), false)
    assert.equal(allows(rule, withRoles()), false)
    assert.equal(allows('not not role:a', withRoles('a')), true)
  })
  it('parentheses override precedence', () => {
    const rule = '(role:a or role:b) and role:c'
    assert.equal(allows(rule, withRoles('a')), false)
    assert.equal(allows(rule, withRoles('a', 'c')), true)
    assert.equal(allows(rule, withRoles('b', 'c')), true)
    assert.equal(allows('not (role:a or role:b)', withRoles('b')), false)
    assert.equal(allows('not (role:a or role:b)', withRoles('c')), true)
    assert.equal(allows('((role:a))', withRoles('a')), true)
  })
  it('chains of the same operator', () => {
    assert.equal(allows('role:a and role:b and role:c', withRoles('a', 'b', 'c')), true)
    assert.equal(allows('role:a and role:b and role:c', withRoles('a', 'b')), false)
    assert.equal(allows('! or ! or role:c', withRoles('c')), true)
    assert.equal(allows('@ and !', withRoles()), false)
  })
  it('and / or / not are case-insensitive, as in oslo.policy', () => {
    assert.equal(allows('role:a AND role:b', withRoles('a', 'b')), true)
    assert.equal(allows('role:a Or role:b', withRoles('b')), true)
    assert.equal(allows('NOT role:a', withRoles()), true)
  })
})

describe('policy: rule references', () => {
  const engine = () => new PolicyEngine({
    admin_required: 'role:admin',
    reader: 'role:reader or rule:admin_required',
    'identity:get_thing': 'rule:reader and project_id:\'p1\'',
    loop: 'rule:loop',
    dangling: 'rule:nope or role:x',
  })
  it('rule: evaluates the named rule, through several levels', () => {
    const e = engine()
    assert.equal(e.check('identity:get_thing', withRoles('admin')), true)
    assert.equal(e.check('identity:get_thing', withRoles('reader')), true)
    assert.equal(e.check('identity:get_thing', withRoles('member')), false)
    assert.equal(e.check('identity:get_thing', ctx({ roleNames: ['admin'], projectId: 'p2' })), false)
  })
  it('an unknown rule denies, whether asked for or referenced', () => {
    const e = engine()
    assert.equal(e.check('identity:no_such_rule', withRoles('admin')), false)
    assert.equal(e.check('dangling', withRoles('admin')), false)
    assert.equal(e.check('dangling', withRoles('x')), true)
  })
  it('a rule referring to itself denies instead of recursing forever', () => {
    assert.equal(engine().check('loop', withRoles('admin')), false)
  })
  it('register() adds and overrides rules, even after they were compiled', () => {
    const e = engine()
    assert.equal(e.check('admin_required', withRoles('operator')), false)
    e.register({ admin_required: 'role:operator', extra: '@' })
    assert.equal(e.check('admin_required', withRoles('operator')), true)
    assert.equal(e.check('identity:get_thing', withRoles('operator')), true)
    assert.equal(e.has('extra'), true)
    assert.equal(e.has('missing'), false)
  })
})

describe('policy: scope and credential fields', () => {
  it('system_scope:all passes only with a system-scoped token', () => {
    const sys = ctx({ projectId: undefined, projectDomainId: undefined, system: 'all', roleNames: ['reader'] })
    assert.equal(allows('system_scope:all', sys), true)
    assert.equal(allows('system_scope:all', withRoles('reader')), false)
    const rule = 'role:admin or (role:reader and system_scope:all)'
    assert.equal(allows(rule, sys), true)
    assert.equal(allows(rule, withRoles('reader')), false)
    assert.equal(allows(rule, withRoles('admin')), true)
  })
  it('quoted literals compare with the credential', () => {
    assert.equal(allows("project_id:'p1'", ctx()), true)
    assert.equal(allows("project_id:'p2'", ctx()), false)
    assert.equal(allows("user_id:'u1' and user_domain_id:'d1'", ctx()), true)
    assert.equal(allows('project_id:p1', ctx()), true) // unquoted literal
  })
  it('True / False literals compare with boolean credentials', () => {
    assert.equal(allows('is_admin_project:True', ctx({ isAdminProject: true })), true)
    assert.equal(allows('is_admin_project:True', ctx()), false)
    assert.equal(allows('is_admin_project:False', ctx()), true)
  })
  it('a credential the token lacks never matches', () => {
    // Project-scoped: no domain scope.
    assert.equal(allows("domain_id:'d1'", ctx()), false)
    assert.equal(allows('not domain_id:d1', ctx()), true)
    const dom = ctx({ projectId: undefined, projectDomainId: undefined, domainId: 'd1' })
    assert.equal(allows("domain_id:'d1'", dom), true)
    assert.equal(allows("token.domain.id:'d1'", dom), true)
    assert.equal(allows("unknown_field:'x'", ctx()), false)
  })
})

describe('policy: %(target)s substitution', () => {
  it('target values given as a nested object', () => {
    const rule = 'user_domain_id:%(target.user.domain_id)s'
    assert.equal(allows(rule, ctx(), { user: { domain_id: 'd1' } }), true)
    assert.equal(allows(rule, ctx(), { user: { domain_id: 'd2' } }), false)
    assert.equal(allows(rule, ctx(), { user: {} }), false)
    assert.equal(allows(rule, ctx(), {}), false)
    assert.equal(allows(rule, ctx(), { user: 'not an object' }), false)
  })
  it('target values given under a flat dotted key', () => {
    const rule = 'user_domain_id:%(target.user.domain_id)s'
    assert.equal(allows(rule, ctx(), { 'target.user.domain_id': 'd1' }), true)
    assert.equal(allows(rule, ctx(), { 'target.user.domain_id': 'd2' }), false)
    assert.equal(allows('user_id:%(user_id)s', ctx(), { user_id: 'u1' }), true)
    assert.equal(allows('user_id:%(user_id)s', ctx(), { user_id: 'u2' }), false)
  })
  it('substitutions combine with roles and parentheses (Keystone defaults)', () => {
    const rule = 'role:admin or (role:reader and domain_id:%(target.project.domain_id)s) or ' +
      'project_id:%(target.project.id)s'
    const dom = ctx({ projectId: undefined, projectDomainId: undefined, domainId: 'd1', roleNames: ['reader'] })
    assert.equal(allows(rule, dom, { project: { id: 'p9', domain_id: 'd1' } }), true)
    assert.equal(allows(rule, dom, { project: { id: 'p9', domain_id: 'd2' } }), false)
    assert.equal(allows(rule, ctx(), { project: { id: 'p1', domain_id: 'd2' } }), true)
    assert.equal(allows('(user_id:%(user_id)s)', ctx(), { user_id: 'u1' }), true)
  })
})

describe('policy: parse errors', () => {
  it('malformed rules throw', () => {
    assert.throws(() => parse('role:a or'), /unexpected end/)
    assert.throws(() => parse('(role:a'), /missing '\)'/)
    assert.throws(() => parse('role:a role:b'), /trailing tokens/)
    assert.throws(() => parse('admin'), /bad check/)
    assert.throws(() => parse(':x'), /bad check/)
  })
})

describe('policy: enforce', () => {
  const e = new PolicyEngine({ 'identity:get_user': 'role:admin' })
  it('returns when the rule passes', () => {
    e.enforce('identity:get_user', withRoles('admin'))
  })
  it('throws a 403 CloudError when it fails, naming the rule', () => {
    for (const c of [withRoles('member'), undefined]) {
      assert.throws(() => e.enforce('identity:get_user', c), (err: unknown) => {
        assert.ok(err instanceof CloudError)
        assert.equal(err.status, 403)
        assert.equal(err.kind, 'Forbidden')
        assert.match(err.message, /not authorized.*identity:get_user/)
        return true
      })
    }
  })
  it('an unknown rule is a 403 too', () => {
    assert.throws(() => e.enforce('identity:nothing', withRoles('admin')),
      (err: unknown) => err instanceof CloudError && err.status === 403)
  })
})
