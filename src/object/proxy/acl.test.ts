import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type AccessRequest, type SwiftIdentity, authorize, cleanAcl, parseAcl, referrerAllowed } from './acl.ts'
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
