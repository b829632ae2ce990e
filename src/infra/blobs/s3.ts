import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutBucketLifecycleConfigurationCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import type { BlobStore } from '../../domain/ports.js'

export interface S3BlobStoreOptions {
  bucket: string
  region: string
  /** An S3-compatible endpoint (MinIO, s3rver …); unset for AWS. */
  endpoint?: string | undefined
  forcePathStyle: boolean
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined
}

/**
 * Photo bytes in S3: `<chatId>/<photoId>`. Photos are served by presigned GETs that end with the
 * URL's expiry; a reclaimed chat's prefix is deleted explicitly, and a bucket lifecycle rule
 * expires anything left behind as a backstop.
 */
export class S3BlobStore implements BlobStore {
  readonly client: S3Client

  constructor(private readonly options: S3BlobStoreOptions) {
    this.client = new S3Client({
      region: options.region,
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle,
      credentials: options.credentials,
    })
  }

  /** The backstop: S3 expires objects by whole days; 3 covers a chat's 24 h plus the cascade. */
  async ensureLifecycle(days = 3): Promise<void> {
    await this.client.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: this.options.bucket,
        LifecycleConfiguration: {
          Rules: [{ ID: 'hush-photos-backstop', Status: 'Enabled', Filter: { Prefix: '' }, Expiration: { Days: days } }],
        },
      }),
    )
  }

  async put(key: string, bytes: Uint8Array, contentType: string): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.options.bucket, Key: key, Body: bytes, ContentType: contentType }))
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const object = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key }))
      return object.Body ? await object.Body.transformToByteArray() : undefined
    } catch (error) {
      if (error instanceof NoSuchKey || (error as Error).name === 'NoSuchKey') return undefined
      throw error
    }
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: key }))
  }

  async deletePrefix(prefix: string): Promise<void> {
    let continuationToken: string | undefined
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: `${prefix}/`, ContinuationToken: continuationToken }),
      )
      const keys = (page.Contents ?? []).flatMap((object) => (object.Key ? [{ Key: object.Key }] : []))
      if (keys.length > 0) {
        await this.client.send(new DeleteObjectsCommand({ Bucket: this.options.bucket, Delete: { Objects: keys, Quiet: true } }))
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined
    } while (continuationToken)
  }

  async directUrl(key: string, expiresAt: number): Promise<string | undefined> {
    const expiresIn = Math.max(1, Math.floor((expiresAt - Date.now()) / 1000))
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.options.bucket, Key: key }), { expiresIn })
  }

  close(): void {
    this.client.destroy()
  }
}
