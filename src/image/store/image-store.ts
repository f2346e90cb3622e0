import type { Readable } from 'node:stream'

/** A byte range of image data: `length` bytes from `offset` (to the end when omitted). */
export interface ByteRange { offset: number; length?: number }

/** What a store returns once image data is durable. */
export interface StoredData {
  /** The store's own URI for the data (Glance's location url), kept on the image row. */
  location: string
  /** Bytes written. */
  size: number
}

/**
 * Where image bytes live (Glance's glance_store driver): a local directory, or an object store.
 * Data is always streamed — never held whole in memory — and every method is idempotent.
 */
export interface ImageStore {
  /** Short name ('file', 'swift'), shown in logs and `/v2/info/stores`. */
  readonly kind: string
  /**
   * Stores the stream as the data of image `id` and resolves once it is durable. When the stream
   * errors (a client that goes away, a hash that does not match) nothing is left behind.
   */
  put(id: string, data: Readable): Promise<StoredData>
  /** Streams the data at `location`; rejects with ImageDataNotFound when there is none. */
  get(location: string, range?: ByteRange): Promise<Readable>
  /** Removes the data at `location`; data already gone is not an error. */
  delete(location: string): Promise<void>
}

/** The data an image row points at is not in the store (Glance answers 204 to a download then). */
export class ImageDataNotFound extends Error {
  override readonly name = 'ImageDataNotFound'
  constructor(location: string) { super(`image data not found at ${location}`) }
}

/** The store refused the data for lack of room (Glance's StorageFull, a 413). */
export class ImageStoreFull extends Error {
  override readonly name = 'ImageStoreFull'
}
