import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type AccessRequest, type SwiftIdentity, authorize, cleanAcl, parseAcl, referrerAllowed } from './acl.ts'
import { accountAclError, accountAclErrorBody, accountAclHeader, accountAclsOf, formatAclV2, parseAclV2 } from './account-acl.ts'
import { SwiftError } from './errors.ts'

const P = 'p1id'
const alice: SwiftIdentity = { userId: 'u-alice', userName: 'alice', userDomainId: 'default', projectId: P, projectName: 'p1', projectDomainId: 'default', roles: ['member', 'reader'] }
const reader: SwiftIdentity = { ...alice, userId: 'u-rd', userName: 'rd', roles: ['reader'] }
const bob: SwiftIdentity = { userId: 'u-bob', userName: 'bob', userDomainId: 'default', projectId: 'p2id', projectName: 'p2', projectDomainId: 'default', roles: ['member'] }
const reseller: SwiftIdentity = { ...bob, userId: 'u-rs', userName: 'rs', roles: ['ResellerAdmin'] }
const otherDomain: SwiftIdentity = { ...bob, userDomainId: 'd2', projectDomainId: 'd2' }

type Want = 'owner' | 'allow' | 401 | 403
const rq = (method: string, container?: string, obj?: string, acl?: string, referer?: string): AccessRequest =>
  ({ method, account: `AUTH_${P}`, container, obj, acl, referer })

describe('keystoneauth authorization', () => {
  it('decides as Swift for owners, other projects, ACLs, referrers and anonymous callers', () => {
    const table: Array<[string, SwiftIdentity | undefined, AccessRequest, Want]> = [
      ['member owns its project account', alice, rq('GET'), 'owner'],
      ['member may PUT a container', alice, rq('PUT', 'c'), 'owner'],
      ['nobody but reseller deletes an account', alice, rq('DELETE'), 403],
      ['reseller admin owns every account', reseller, rq('DELETE'), 'owner'],
      ['reader role is not an operator role', reader, rq('GET', 'c'), 403],
      ['other project is refused', bob, rq('GET', 'c'), 403],
      ['other project in read ACL by id', bob, rq('GET', 'c', 'o', 'p2id:u-bob'), 'allow'],
      ['other project in read ACL by names', bob, rq('GET', 'c', 'o', 'p2:bob'), 'allow'],
      ['project wildcard', bob, rq('GET', 'c', undefined, 'p2id:*'), 'allow'],
      ['user wildcard', bob, rq('HEAD', 'c', 'o', '*:u-bob'), 'allow'],
      ['names not honoured outside the default domain', otherDomain, rq('GET', 'c', 'o', 'p2:bob'), 403],
      ['ids honoured outside the default domain', otherDomain, rq('GET', 'c', 'o', 'p2id:u-bob'), 'allow'],
      ['ACL of someone else', bob, rq('GET', 'c', 'o', 'p3id:*'), 403],
      ['.r:* lets anyone read objects', bob, rq('GET', 'c', 'o', '.r:*'), 'allow'],
      ['.r:* does not allow listings', bob, rq('GET', 'c', undefined, '.r:*'), 403],
      ['.r:* with .rlistings allows listings', bob, rq('GET', 'c', undefined, '.r:*,.rlistings'), 'allow'],
      ['anonymous read with .r:*', undefined, rq('GET', 'c', 'o', '.r:*'), 'allow'],
      ['anonymous listing with .rlistings', undefined, rq('GET', 'c', undefined, '.r:*,.rlistings'), 'allow'],
      ['anonymous without ACL', undefined, rq('GET', 'c', 'o'), 401],
      ['anonymous on the account', undefined, rq('GET'), 401],
      ['referrer match', undefined, rq('GET', 'c', 'o', '.r:.example.com', 'http://www.example.com/x'), 'allow'],
      ['referrer mismatch', undefined, rq('GET', 'c', 'o', '.r:.example.com', 'http://evil.org/'), 401],
      ['referrer denied after allow', undefined, rq('GET', 'c', 'o', '.r:*,.r:-evil.org', 'http://evil.org/'), 401],
      ['write ACL lets another project PUT objects', bob, rq('PUT', 'c', 'o', 'p2id:*'), 'allow'],
      ['role named in the ACL for the account project', reader, rq('GET', 'c', 'o', 'reader'), 'allow'],
      ['role in ACL does not open other accounts', bob, rq('GET', 'c', 'o', 'member'), 403],
    ]
    for (const [what, id, req, want] of table) {
      const d = authorize(id, req)
      const got: Want = d.allowed ? (d.owner ? 'owner' : 'allow') : d.status
      assert.equal(got, want, what)
    }
  })

  it('clean_acl normalizes and rejects as Swift', () => {
    assert.equal(cleanAcl('x-container-read', 'bob , sue'), 'bob,sue')
    assert.equal(cleanAcl('x-container-read', 'bob,,,sue'), 'bob,sue')
    assert.equal(cleanAcl('x-container-read', '.referrer : *'), '.r:*')
    assert.equal(cleanAcl('x-container-read', '.ref:*.example.com'), '.r:.example.com')
    assert.equal(cleanAcl('x-container-read', '.r:*, .rlistings'), '.r:*,.rlistings')
    assert.equal(cleanAcl('x-container-read', '.r:-thief.com'), '.r:-thief.com')
    for (const [h, v] of [['x-container-write', '.r:*'], ['x-container-read', '.r:'], ['x-container-read', '.r:-'], ['x-container-read', '.x:y']]) {
      assert.throws(() => cleanAcl(h!, v!), (e: unknown) => e instanceof SwiftError && e.status === 400, `${h}: ${v}`)
    }
  })

  it('parse_acl and referrer_allowed', () => {
    assert.deepEqual(parseAcl('.r:*,.rlistings,p:u,a%3Ab'), { referrers: ['*'], groups: ['.rlistings', 'p:u', 'a:b'] })
    assert.equal(referrerAllowed('http://a.example.com/', ['.example.com']), true)
    assert.equal(referrerAllowed('http://example.org/', ['.example.com']), false)
    assert.equal(referrerAllowed(undefined, ['*']), true)
    assert.equal(referrerAllowed('http://x.example.com/', ['*', '-x.example.com']), false)
    assert.equal(referrerAllowed('http://y.example.com/', ['*', '-.example.com', 'y.example.com']), true)
  })
})

describe('account ACLs (X-Account-Access-Control)', () => {
  const acls = accountAclsOf(JSON.stringify({ admin: ['p9id:*'], 'read-write': ['p2id:u-bob'], 'read-only': ['*:u-carol', 'reader'] }))!
  const carol: SwiftIdentity = { ...bob, userId: 'u-carol', userName: 'carol', projectId: 'p3id', projectName: 'p3' }
  const dave: SwiftIdentity = { ...bob, userId: 'u-dave', userName: 'dave', projectId: 'p9id', projectName: 'p9' }
  const acct = (method: string, container?: string, obj?: string): AccessRequest =>
    ({ method, account: `AUTH_${P}`, container, obj, accountAcl: acls })

  it('grants as tempauth: admin owns, read-write writes containers and objects, read-only reads', () => {
    const table: Array<[string, SwiftIdentity, AccessRequest, Want]> = [
      ['read-only lists the account', carol, acct('GET'), 'allow'],
      ['read-only reads objects', carol, acct('HEAD', 'c', 'o'), 'allow'],
      ['read-only cannot write objects', carol, acct('PUT', 'c', 'o'), 403],
      ['read-only cannot create containers', carol, acct('PUT', 'c'), 403],
      ['read-write writes objects', bob, acct('PUT', 'c', 'o'), 'allow'],
      ['read-write deletes containers', bob, acct('DELETE', 'c'), 'allow'],
      ['read-write reads the account', bob, acct('HEAD'), 'allow'],
      ['read-write cannot change the account', bob, acct('POST'), 403],
      ['admin is an owner', dave, acct('POST'), 'owner'],
      ['admin owns containers too', dave, acct('PUT', 'c'), 'owner'],
      ['admin still cannot delete the account', dave, acct('DELETE'), 403],
      ['a role of the account project', reader, acct('GET', 'c'), 'allow'],
      ['a role does not reach other projects', { ...bob, userId: 'u-x', roles: ['reader'] }, acct('GET', 'c'), 403],
      ['no ACL entry', { ...bob, userId: 'u-eve', projectId: 'p5id' }, acct('GET'), 403],
      ['ids match outside the default domain', otherDomain, acct('PUT', 'c', 'o'), 'allow'],
      ['owners stay owners', alice, acct('GET'), 'owner'],
    ]
    for (const [what, id, req, want] of table) {
      const d = authorize(id, req)
      assert.equal(d.allowed ? (d.owner ? 'owner' : 'allow') : d.status, want, what)
    }
    assert.deepEqual(authorize(undefined, acct('GET')), { allowed: false, status: 401 }, 'never for anonymous callers')
  })

  it('validates, stores and shows ACLs as Swift', () => {
    assert.equal(accountAclError('{"admin":["a"],"read-only":[]}'), undefined)
    assert.equal(accountAclError(''), undefined)
    assert.equal(accountAclError('{"admin": "a"}'), 'Value for key "admin" must be a list')
    assert.equal(accountAclError('{"admin": [1]}'), 'Elements of "admin" list must be strings')
    assert.equal(accountAclError('{"owner": []}'), 'Key "owner" not recognized')
    assert.equal(accountAclError('[1]'), "Syntax error in input ('[1]')")
    assert.equal(accountAclError("{it's"), `Syntax error in input ("{it's")`)
    assert.equal(accountAclErrorBody('E', 'v'), 'X-Account-Access-Control invalid: E\n\nInput: v\n')
    assert.equal(formatAclV2({ 'read-only': ['é'], admin: ['b', 'a'] }), '{"admin":["b","a"],"read-only":["\\u00e9"]}')
    assert.equal(accountAclHeader('{ "read-write" : ["x"] }'), '{"read-write":["x"]}')
    assert.equal(accountAclHeader('{}'), undefined)
    assert.equal(accountAclHeader(undefined), undefined)
    assert.equal(accountAclsOf('{"admin":[]}'), undefined, 'empty lists are no ACL')
    assert.equal(accountAclsOf('not json'), undefined)
    assert.deepEqual(parseAclV2(''), {})
    assert.equal(parseAclV2('"x"'), null)
  })
})
