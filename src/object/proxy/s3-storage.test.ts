// The proxy's S3Storage passes the port's conformance suite on a real in-process object store
// (the Swift fixture's rings, devices and storage servers).
import { s3StorageConformance } from '../s3/index.ts'
import { swiftFixture } from './test-kit.ts'

s3StorageConformance('ProxyS3Storage', async () => {
  const f = await swiftFixture()
  return { storage: f.store.s3Storage, close: () => f.close() }
})
