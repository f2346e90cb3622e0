// staticweb through the whole proxy: index files, HTML listings, error pages, directory
// markers, X-Web-Mode, for anonymous visitors of public containers.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { cssPath, humanReadable, listingPage } from './staticweb-html.ts'
import { type SwiftFixture, swiftFixture } from './test-kit.ts'

let f: SwiftFixture
let A: string
const anon = { token: null }

before(async () => {
  f = await swiftFixture()
  A = `/v1/${f.account}`
  await f.call('PUT', `${A}/site`, { headers: { 'x-container-read': '.r:*,.rlistings' } })
  const put = (path: string, body: string, headers: Record<string, string> = {}) => f.call('PUT', `${A}/site/${path}`, { body, headers })
  await put('index.html', '<h1>home</h1>')
  await put('dir/index.html', 'dir home')
  await put('list/a.txt', 'aaaa', { 'content-type': 'text/plain' })
  await put('list/sub/b.txt', 'b')
  await put('list/c d.bin', 'x'.repeat(2048), { 'content-type': 'application/octet-stream' })
  await put('404error.html', 'custom not found')
  await put('marker', '', { 'content-type': 'application/directory' })
  await put('marker/inside.txt', 'in')
  await put('empty-marker', '', { 'content-type': 'application/directory' })
  await f.call('POST', `${A}/site`, { headers: { 'x-container-meta-web-index': 'index.html', 'x-container-meta-web-error': 'error.html' } })
})
after(async () => { await f?.close() })

describe('staticweb', () => {
  it('is in /info', async () => {
    assert.deepEqual(JSON.parse((await f.call('GET', '/info', anon)).body).staticweb, {})
  })

  it('serves the index of the container and of pseudo-directories, redirecting to the slash form', async () => {
    const root = await f.call('GET', `${A}/site/`, anon)
    assert.equal(root.statusCode, 200)
    assert.equal(root.body, '<h1>home</h1>')
    const noSlash = await f.call('GET', `${A}/site`, anon)
    // Served in place, or redirected to the slash form when the proxy tells the two apart.
    if (noSlash.statusCode === 301) assert.equal(noSlash.headers.location, `${A}/site/`)
    else assert.equal(noSlash.body, '<h1>home</h1>')
    const dir = await f.call('GET', `${A}/site/dir`, anon)
    assert.equal(dir.statusCode, 301)
    assert.equal(dir.headers.location, `${A}/site/dir/`)
    assert.equal(dir.body, '<html><h1>Moved Permanently</h1><p>The resource has moved permanently.</p></html>')
    const dirSlash = await f.call('GET', `${A}/site/dir/`, anon)
    assert.equal(dirSlash.statusCode, 200)
    assert.equal(dirSlash.body, 'dir home')
    assert.equal((await f.call('HEAD', `${A}/site/dir/`, anon)).statusCode, 200)
    assert.equal((await f.call('GET', `${A}/site/index.html`, anon)).body, '<h1>home</h1>')
  })

  it('serves "<status><Web-Error>" pages for what is not found, with the 404 status', async () => {
    const r = await f.call('GET', `${A}/site/nothere`, anon)
    assert.equal(r.statusCode, 404)
    assert.equal(r.body, 'custom not found')
  })

  it('lists pseudo-directories as HTML when Web-Listings is on, with the stylesheet link', async () => {
    await f.call('POST', `${A}/site`, { headers: { 'x-container-meta-web-listings': 'true', 'x-container-meta-web-listings-css': 'style.css' } })
    const r = await f.call('GET', `${A}/site/list/`, anon)
    assert.equal(r.statusCode, 200)
    assert.equal(r.headers['content-type'], 'text/html; charset=UTF-8')
    const body = r.body
    assert.match(body, /^<!DOCTYPE html>\n<html>\n <head>\n  <title>Listing of \/v1\/AUTH_[0-9a-f]+\/site\/list\/<\/title>\n/)
    assert.ok(body.includes('  <link rel="stylesheet" type="text/css" href="../style.css" />\n'))
    assert.ok(body.includes('    <td class="colname"><a href="../">../</a></td>\n'))
    assert.ok(body.includes('   <tr class="item subdir">\n    <td class="colname"><a href="./sub/">sub/</a></td>\n'))
    assert.ok(body.includes('   <tr class="item type-text type-plain">\n    <td class="colname"><a href="./a%2Etxt">a.txt</a></td>\n    <td class="colsize">4</td>\n'))
    assert.ok(body.includes('<a href="./c%20d%2Ebin">c d.bin</a></td>\n    <td class="colsize">2Ki</td>\n    <td class="coldate">'))
    assert.match(body, /<td class="coldate">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d<\/td>/)
    // A directory without listing entries is not found (the error page).
    const none = await f.call('GET', `${A}/site/nolist/`, anon)
    assert.equal(none.statusCode, 404)
    assert.equal(none.body, 'custom not found')
  })

  it('treats directory markers as directories: redirect when they hold objects, 404 otherwise', async () => {
    const m = await f.call('GET', `${A}/site/marker`, anon)
    assert.equal(m.statusCode, 301)
    assert.equal(m.headers.location, `${A}/site/marker/`)
    assert.equal((await f.call('GET', `${A}/site/empty-marker`, anon)).statusCode, 404)
  })

  it('leaves token holders to the API unless they send X-Web-Mode: true', async () => {
    const api = await f.call('GET', `${A}/site/dir`)
    assert.equal(api.statusCode, 404)
    const web = await f.call('GET', `${A}/site/dir/`, { headers: { 'x-web-mode': 'true' } })
    assert.equal(web.body, 'dir home')
  })

  it('answers 401 with the 401 page for an anonymous listing of a container without .rlistings', async () => {
    await f.call('PUT', `${A}/site2`, { headers: { 'x-container-read': '.r:*', 'x-container-meta-web-listings': 'true',
      'x-container-meta-web-error': '.html' } })
    await f.call('PUT', `${A}/site2/401.html`, { body: 'who are you' })
    const r = await f.call('GET', `${A}/site2/`, anon)
    assert.equal(r.statusCode, 401)
    assert.equal(r.body, 'who are you')
  })

  it('lists the container itself, with a label; without listings a missing index is a 404 page', async () => {
    await f.call('PUT', `${A}/site3`, { headers: { 'x-container-read': '.r:*,.rlistings', 'x-container-meta-web-listings': 'yes',
      'x-container-meta-web-listings-label': 'example.com' } })
    await f.call('PUT', `${A}/site3/a b`, { body: 'x' })
    const r = await f.call('GET', `${A}/site3/`, anon)
    assert.equal(r.statusCode, 200)
    assert.ok(r.body.includes('<title>Listing of example.com/</title>'))
    assert.ok(r.body.includes('   th {text-align: left; padding: 0px 1em 0px 1em;}\n'))
    assert.ok(r.body.includes('<a href="./a%20b">a b</a>'))
    assert.ok(!r.body.includes('id="parent"'))
    await f.call('POST', `${A}/site3`, { headers: { 'x-remove-container-meta-web-listings': 'x', 'x-container-meta-web-index': 'index.html' } })
    const off = await f.call('GET', `${A}/site3/`, anon)
    assert.equal(off.statusCode, 404)
    assert.ok(off.body.includes('<h1>Web Listing Disabled</h1>'))
    assert.ok(off.body.includes('<b>X-Container-Meta-Web-Index: index.html</b>'))
  })

  it('passes requests through when the container has no web settings', async () => {
    await f.call('PUT', `${A}/plain`, { headers: { 'x-container-read': '.r:*,.rlistings' } })
    await f.call('PUT', `${A}/plain/o`, { body: 'o' })
    const r = await f.call('GET', `${A}/plain`, anon)
    assert.equal(r.statusCode, 200)
    assert.equal(r.body, 'o\n')
    assert.equal((await f.call('GET', `${A}/plain`, { headers: { 'x-web-mode': 'true' } })).statusCode, 404)
  })
})

describe('staticweb HTML helpers', () => {
  it('sizes as Swift\'s human_readable (banker\'s rounding)', () => {
    assert.deepEqual([0, 1023, 1024, 1536, 2560, 1048576, 5 * 1024 ** 3].map(humanReadable), ['0', '1023', '1Ki', '2Ki', '2Ki', '1Mi', '5Gi'])
  })

  it('builds stylesheet paths relative to the container, absolute ones as given', () => {
    assert.equal(cssPath('s.css', ''), 's.css')
    assert.equal(cssPath('s.css', 'a/b/'), '../../s.css')
    assert.equal(cssPath('/static/s s.css', 'a/'), '/static/s%20s.css')
    assert.equal(cssPath('https://cdn.example/s.css', 'a/'), 'https://cdn.example/s.css')
  })

  it('escapes names in the listing', () => {
    const page = listingPage('/v1/a/c/', '', '', [{ name: '<b>&"', bytes: 1, content_type: 'Text/HTML', last_modified: '2024-01-02T03:04:05.123456' }])
    assert.ok(page.includes('<tr class="item type-text type-html">\n    <td class="colname"><a href="./%3Cb%3E%26%22">&lt;b&gt;&amp;&quot;</a></td>\n' +
      '    <td class="colsize">1</td>\n    <td class="coldate">2024-01-02 03:04:05</td>\n'))
  })
})
