// The XML reader (what it accepts, and that DOCTYPEs, unknown entities and broken documents are
// MalformedXML, never a crash or an expansion) and the request-document readers; a few renderer
// details that clients depend on.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { S3Error } from './errors.ts'
import { parseXml } from './xml-parse.ts'
import { readCompleteMultipartUpload, readCors, readDelete, readVersioning, readAccessControlPolicy } from './xml-requests.ts'
import { errorXml, escapeXml, listBucketV2Xml, locationXml } from './xml.ts'

const code = (c: string) => (e: unknown) => e instanceof S3Error && e.code === c

describe('parseXml', () => {
  it('reads namespaced elements, attributes, text, CDATA, comments and entities', () => {
    const doc = parseXml(`<?xml version="1.0" encoding="UTF-8"?>\r\n<!-- c --><s3:Root xmlns:s3="urn:x" a='1'>` +
      `<Item>a &amp; b &lt;c&gt; &#65;&#x42;</Item><Item><![CDATA[<raw & text>]]></Item><Empty/></s3:Root>`)
    assert.equal(doc.name, 'Root')
    assert.equal(doc.attrs.a, '1')
    assert.deepEqual(doc.children.map((c) => c.name), ['Item', 'Item', 'Empty'])
    assert.equal(doc.children[0]!.text, 'a & b <c> AB')
    assert.equal(doc.children[1]!.text, '<raw & text>')
    assert.equal(doc.children[2]!.text, '')
  })

  it('refuses DOCTYPEs (no entity expansion, no external entities) and broken documents', () => {
    const bad = [
      '<!DOCTYPE lolz [<!ENTITY lol "lol">]><Delete>&lol;</Delete>',
      '<?xml version="1.0"?><!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>',
      '<Delete>&unknown;</Delete>', '<Delete>a & b</Delete>', '<Delete><Object></Delete>', '<A/><B/>',
      'text<A/>', '<A>', '', '<A x=1/>', '<A>&#0;</A>', `${'<a>'.repeat(40)}${'</a>'.repeat(40)}`,
    ]
    for (const src of bad) assert.throws(() => parseXml(src), code('MalformedXML'), src)
  })
})

describe('request documents', () => {
  it('CompleteMultipartUpload: parts with quoted or entity-quoted ETags', () => {
    const parts = readCompleteMultipartUpload('<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      '<Part><PartNumber>1</PartNumber><ETag>"aa"</ETag></Part><Part><ETag>&quot;bb&quot;</ETag><PartNumber>2</PartNumber>' +
      '<ChecksumCRC32>x</ChecksumCRC32></Part></CompleteMultipartUpload>')
    assert.deepEqual(parts, [{ partNumber: 1, etag: 'aa' }, { partNumber: 2, etag: 'bb' }])
    assert.throws(() => readCompleteMultipartUpload('<CompleteMultipartUpload><Part><ETag>a</ETag></Part></CompleteMultipartUpload>'), code('MalformedXML'))
    assert.throws(() => readCompleteMultipartUpload('<Other/>'), code('MalformedXML'))
  })

  it('Delete: keys verbatim, quiet flag, version ids', () => {
    const d = readDelete('<Delete><Quiet>true</Quiet><Object><Key> spaced key </Key></Object><Object><Key>v</Key><VersionId>null</VersionId></Object></Delete>')
    assert.deepEqual(d, { quiet: true, objects: [{ key: ' spaced key ' }, { key: 'v', versionId: 'null' }] })
    assert.throws(() => readDelete('<Delete><Quiet>true</Quiet></Delete>'), code('MalformedXML'))
  })

  it('CORSConfiguration: validated as S3 validates it', () => {
    const rules = readCors('<CORSConfiguration><CORSRule><ID>r</ID><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>' +
      '<MaxAgeSeconds>30</MaxAgeSeconds></CORSRule></CORSConfiguration>')
    assert.deepEqual(rules, [{ id: 'r', allowedOrigins: ['*'], allowedMethods: ['GET'], allowedHeaders: [], exposeHeaders: [], maxAgeSeconds: 30 }])
    assert.throws(() => readCors('<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>'), code('MalformedXML'))
    assert.throws(() => readCors('<CORSConfiguration><CORSRule><AllowedOrigin>*.*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>'),
      code('InvalidRequest'))
  })

  it('VersioningConfiguration and AccessControlPolicy', () => {
    assert.deepEqual(readVersioning('<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>'), { status: 'Suspended' })
    const acl = readAccessControlPolicy('<AccessControlPolicy><Owner><ID>o</ID></Owner><AccessControlList><Grant>' +
      '<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>u</URI></Grantee><Permission>READ</Permission>' +
      '</Grant></AccessControlList></AccessControlPolicy>')
    assert.deepEqual(acl, { ownerId: 'o', grants: [{ grantee: { type: 'Group', uri: 'u' }, permission: 'READ' }] })
    assert.throws(() => readAccessControlPolicy('<AccessControlPolicy><AccessControlList><Grant><Grantee><ID>x</ID></Grantee>' +
      '<Permission>EVERYTHING</Permission></Grant></AccessControlList></AccessControlPolicy>'), code('MalformedACLError'))
  })
})

describe('rendering', () => {
  it('escapes markup and control characters in names', () => {
    assert.equal(escapeXml('a<b>&"c"\u0001'), 'a&lt;b&gt;&amp;"c"&#x1;')
    const xml = listBucketV2Xml({ bucket: 'b', prefix: '', maxKeys: 1000, isTruncated: false, keyCount: 1,
      contents: [{ key: 'x<y', lastModified: new Date(0), etag: 'e', size: 1 }], commonPrefixes: [] })
    assert.match(xml, /<Key>x&lt;y<\/Key><LastModified>1970-01-01T00:00:00.000Z<\/LastModified><ETag>"e"<\/ETag><Size>1<\/Size><StorageClass>STANDARD<\/StorageClass>/)
    assert.ok(parseXml(xml))
  })

  it('error documents and location constraints look like AWS\'s', () => {
    assert.equal(errorXml('NoSuchKey', 'The specified key does not exist.', { Key: 'k' }, '/b/k', 'R1'),
      '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>' +
      '<Key>k</Key><Resource>/b/k</Resource><RequestId>R1</RequestId><HostId>R1</HostId></Error>')
    assert.match(locationXml('us-east-1'), /<LocationConstraint xmlns="http:\/\/s3.amazonaws.com\/doc\/2006-03-01\/"><\/LocationConstraint>$/)
    assert.match(locationXml('RegionOne'), />RegionOne<\/LocationConstraint>$/)
  })
})
