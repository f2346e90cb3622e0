// S3's naming rules for new buckets (docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
// Requests on existing buckets accept the legacy character set (parse.ts); only creation applies
// these, so buckets made elsewhere (e.g. Swift containers) stay reachable.
import { s3err } from './errors.ts'

const RESERVED_PREFIXES = ['xn--', 'sthree-', 'amzn-s3-demo-']
const RESERVED_SUFFIXES = ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3']

/** Why `name` can't be a new bucket's name, or undefined when it can. */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return 'must be between 3 and 63 characters long'
  if (!/^[a-z0-9.-]+$/.test(name)) return 'can consist only of lowercase letters, numbers, dots and hyphens'
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) return 'must begin and end with a letter or number'
  if (name.includes('..')) return 'must not contain two adjacent periods'
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return 'must not be formatted as an IP address'
  if (RESERVED_PREFIXES.some((p) => name.startsWith(p))) return 'must not start with a reserved prefix'
  if (RESERVED_SUFFIXES.some((s) => name.endsWith(s))) return 'must not end with a reserved suffix'
  return undefined
}

/** Throws InvalidBucketName unless `name` may be created. */
export function checkNewBucketName(name: string): void {
  const problem = bucketNameProblem(name)
  if (problem) throw s3err('InvalidBucketName', `The specified bucket is not valid: a bucket name ${problem}.`, { BucketName: name })
}

/** The segments container of a bucket, where multipart parts and upload markers live (as Swift's s3api). */
export function segmentsContainer(bucket: string): string {
  return `${bucket}+segments`
}
