import {
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  TrimmedDataAccessException,
  type DynamoDBStreamsClient,
  type _Record,
} from '@aws-sdk/client-dynamodb-streams'

/** The calls the expiry cascade makes on a table's stream, one shard at a time. */

export interface StreamShard {
  shardId: string
  parentShardId: string | undefined
}

/** Every shard the stream lists (open ones and closed ones not yet trimmed, 24 h after closing). */
export async function listShards(streamsClient: DynamoDBStreamsClient, streamArn: string): Promise<StreamShard[]> {
  const shards: StreamShard[] = []
  let exclusiveStartShardId: string | undefined
  do {
    const { StreamDescription } = await streamsClient.send(
      new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: exclusiveStartShardId }),
    )
    for (const shard of StreamDescription?.Shards ?? []) {
      if (shard.ShardId) shards.push({ shardId: shard.ShardId, parentShardId: shard.ParentShardId })
    }
    exclusiveStartShardId = StreamDescription?.LastEvaluatedShardId
  } while (exclusiveStartShardId)
  return shards
}

/**
 * An iterator just after `checkpoint`, where the shard's previous holder stopped, or at the oldest
 * record when there is none. A checkpoint older than the stream's retention is trimmed away: then
 * from the oldest record still there (what fell in the gap is the backstop's, expiry-backstop.ts).
 */
export async function openIterator(
  streamsClient: DynamoDBStreamsClient,
  streamArn: string,
  shardId: string,
  checkpoint: string | undefined,
): Promise<{ iterator: string | undefined; trimmed: boolean }> {
  const open = async (after: string | undefined) => {
    const { ShardIterator } = await streamsClient.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: shardId,
        ...(after === undefined ? { ShardIteratorType: 'TRIM_HORIZON' } : { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: after }),
      }),
    )
    return ShardIterator
  }
  try {
    return { iterator: await open(checkpoint), trimmed: false }
  } catch (error) {
    if (!(error instanceof TrimmedDataAccessException) || checkpoint === undefined) throw error
    return { iterator: await open(undefined), trimmed: true }
  }
}

/** One page of a shard; `next` is undefined once the shard is closed and read to its end. */
export async function readPage(
  streamsClient: DynamoDBStreamsClient,
  iterator: string,
  limit: number,
): Promise<{ records: _Record[]; next: string | undefined }> {
  const { Records = [], NextShardIterator } = await streamsClient.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }))
  return { records: Records, next: NextShardIterator }
}
