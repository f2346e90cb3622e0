// End to end: `cumulo up` in a child process on a temp dir, driven by the real `openstack`
// CLI (Debian's python3-openstackclient), as a newcomer would use it.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { type CloudProcess, have, run, startCloudProcess } from '../support/cloud-process.ts'

const CI = process.env.CI === 'true'
const hasOsc = await have('openstack')
if (!hasOsc && CI) throw new Error('openstack CLI (python3-openstackclient) is required in CI')

describe('identity with the openstack CLI', { skip: !hasOsc && 'openstack CLI not installed (apt-get install python3-openstackclient)' }, () => {
  let cloud: CloudProcess
  const osc = async (...args: string[]) => {
    const r = await run('openstack', args, cloud.env)
    return r
  }
  const oscJson = async (...args: string[]) => {
    const r = await osc(...args, '-f', 'json')
    assert.equal(r.code, 0, `openstack ${args.join(' ')} failed: ${r.stderr}`)
    return JSON.parse(r.stdout)
  }

  before(async () => { cloud = await startCloudProcess({ portOffset: 23000 }) })
  after(async () => { await cloud?.destroy() })

  test('token issue and catalog list with the clouds.yaml cumulo up wrote', async () => {
    const t = await oscJson('token', 'issue')
    assert.match(t.id, /^[A-Za-z0-9_-]{100,}$/)
    assert.match(t.project_id, /^[0-9a-f]{32}$/)
    assert.match(t.expires, /^\d{4}-\d\d-\d\dT/)
    const cat = await oscJson('catalog', 'list')
    const identity = cat.find((s: any) => s.Type === 'identity')
    assert.ok(identity, 'identity in the catalog')
    assert.ok(JSON.stringify(identity.Endpoints).includes(cloud.identityUrl))
  })

  test('projects, users, roles, groups, application credentials; a wrong password is a 401', async () => {
    const p = await oscJson('project', 'create', '--description', 'e2e project', 'e2e-p1')
    assert.equal(p.name, 'e2e-p1')
    assert.equal(p.description, 'e2e project')
    const projects = await oscJson('project', 'list')
    assert.ok(projects.some((x: any) => x.Name === 'e2e-p1'))

    const u = await oscJson('user', 'create', '--password', 'pw-e2e-1', '--project', 'e2e-p1', '--email', 'u1@example.org', 'e2e-u1')
    assert.equal(u.name, 'e2e-u1')
    assert.equal(u.default_project_id, p.id)

    const add = await osc('role', 'add', '--project', 'e2e-p1', '--user', 'e2e-u1', 'member')
    assert.equal(add.code, 0, add.stderr)
    const ra = await oscJson('role', 'assignment', 'list', '--user', 'e2e-u1', '--project', 'e2e-p1', '--names')
    assert.ok(ra.some((x: any) => x.Role === 'member' && x.User.startsWith('e2e-u1')), JSON.stringify(ra))

    const g = await oscJson('group', 'create', '--description', 'e2e group', 'e2e-g1')
    assert.equal(g.name, 'e2e-g1')
    assert.equal((await osc('group', 'add', 'user', 'e2e-g1', 'e2e-u1')).code, 0)
    const contains = await osc('group', 'contains', 'user', 'e2e-g1', 'e2e-u1')
    assert.equal(contains.code, 0, contains.stderr)
    assert.match(contains.stdout, /e2e-u1 in group e2e-g1/)

    // The new user authenticates with its password, scoped to its project (plain OS_* variables:
    // with OS_CLOUD set, the CLI ignores --os-project-name).
    const userEnv = { ...process.env, OS_CLOUD: '', OS_CLIENT_CONFIG_FILE: '/nonexistent', OS_AUTH_URL: cloud.identityUrl,
      OS_IDENTITY_API_VERSION: '3', OS_USERNAME: 'e2e-u1', OS_PASSWORD: 'pw-e2e-1', OS_PROJECT_NAME: 'e2e-p1',
      OS_USER_DOMAIN_NAME: 'Default', OS_PROJECT_DOMAIN_NAME: 'Default' }
    const asUserRun = (...args: string[]) => run('openstack', args, userEnv)
    const asUserJson = async (...args: string[]) => {
      const r = await asUserRun(...args, '-f', 'json')
      assert.equal(r.code, 0, `openstack (as e2e-u1) ${args.join(' ')} failed: ${r.stderr}`)
      return JSON.parse(r.stdout)
    }
    const ut = await asUserJson('token', 'issue')
    assert.equal(ut.user_id, u.id)
    assert.equal(ut.project_id, p.id)

    // It creates an application credential and authenticates with it.
    const ac = await asUserJson('application', 'credential', 'create', '--description', 'ci', 'e2e-ac1')
    assert.ok(ac.secret && ac.secret.length >= 32)
    const acEnv = { ...cloud.env, OS_CLOUD: '', OS_CLIENT_CONFIG_FILE: '/nonexistent' }
    const acToken = await run('openstack', ['--os-auth-type', 'v3applicationcredential', '--os-auth-url', cloud.identityUrl,
      '--os-identity-api-version', '3', '--os-application-credential-id', ac.id,
      '--os-application-credential-secret', ac.secret, 'token', 'issue', '-f', 'json'], acEnv)
    assert.equal(acToken.code, 0, acToken.stderr)
    assert.equal(JSON.parse(acToken.stdout).project_id, p.id)
    const badAc = await run('openstack', ['--os-auth-type', 'v3applicationcredential', '--os-auth-url', cloud.identityUrl,
      '--os-identity-api-version', '3', '--os-application-credential-id', ac.id,
      '--os-application-credential-secret', 'wrong', 'token', 'issue'], acEnv)
    assert.notEqual(badAc.code, 0)
    assert.match(badAc.stderr, /401/)

    // A wrong password: the CLI reports Keystone's 401.
    const bad = await run('openstack', ['token', 'issue'], { ...userEnv, OS_PASSWORD: 'wrong' })
    assert.notEqual(bad.code, 0)
    assert.match(bad.stderr, /The request you have made requires authentication.*HTTP 401/)

    // A member cannot create users.
    const denied = await asUserRun('user', 'create', '--password', 'x', 'e2e-nope')
    assert.notEqual(denied.code, 0)
    assert.match(denied.stderr, /HTTP 403/)

    // Remove the role: the user's project token no longer validates and it cannot authenticate to the project.
    assert.equal((await osc('role', 'remove', '--project', 'e2e-p1', '--user', 'e2e-u1', 'member')).code, 0)
    const after = await asUserRun('token', 'issue')
    assert.notEqual(after.code, 0)
    assert.equal((await osc('group', 'remove', 'user', 'e2e-g1', 'e2e-u1')).code, 0)
    assert.equal((await osc('group', 'delete', 'e2e-g1')).code, 0)
    assert.equal((await osc('user', 'delete', 'e2e-u1')).code, 0)
    assert.equal((await osc('project', 'delete', 'e2e-p1')).code, 0)
    const left = await oscJson('project', 'list')
    assert.ok(!left.some((x: any) => x.Name === 'e2e-p1'))
  })

  test('a restart on the same data dir keeps every record; SIGTERM stops cleanly', async () => {
    const p = await oscJson('project', 'create', 'e2e-keep')
    const code = await cloud.stop()
    assert.equal(code, 0, cloud.output())
    await cloud.restart()
    const shown = await oscJson('project', 'show', 'e2e-keep')
    assert.equal(shown.id, p.id)
    const t = await oscJson('token', 'issue')
    assert.ok(t.id)
  })
})
