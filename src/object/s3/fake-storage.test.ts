// The in-memory S3Storage passes the port's conformance suite, so tests of the S3 layer run on
// the same contract the proxy's implementation must meet.
import { FakeS3Storage } from './fake-storage.ts'
import { s3StorageConformance } from './port-conformance.ts'

s3StorageConformance('FakeS3Storage', async () => ({ storage: new FakeS3Storage() }))
