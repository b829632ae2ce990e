import { describe, expect, it } from 'vitest'
import { awsUnits, itemSize, transactWriteUnits } from '../../bench/lib/ddb-meter.js'

/** The capacity bench counts DynamoDB capacity by AWS's published rules; these are those rules. */
describe('the capacity meter', () => {
  const put = (bytes: number) => ({ Put: { TableName: 't', Item: { pk: { S: 'k' }, body: { S: 'x'.repeat(bytes) } } } })

  it('charges a transaction 2 WCU per started KB of each item, whatever DynamoDB Local reports', () => {
    expect(transactWriteUnits({ TransactItems: [put(10), put(10), put(10)] })).toBe(6)
    expect(transactWriteUnits({ TransactItems: [put(2_500)] })).toBe(6)
    const update = { Update: { TableName: 't', Key: { pk: { S: 'k' } }, UpdateExpression: 'SET a = :a' } }
    expect(awsUnits('TransactWriteItems', { TransactItems: [put(10), update] }, 200, '{"ConsumedCapacity":[{"CapacityUnits":3}]}')).toEqual({ wcu: 4, rcu: 0 })
  })

  it('charges a write whose condition failed, and a read that found nothing', () => {
    expect(awsUnits('UpdateItem', {}, 400, '{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"}')).toEqual({ wcu: 1, rcu: 0 })
    expect(awsUnits('GetItem', { ConsistentRead: true }, 200, '{"ConsumedCapacity":{"CapacityUnits":0}}')).toEqual({ wcu: 0, rcu: 1 })
    expect(awsUnits('Query', {}, 200, '{"Items":[]}')).toEqual({ wcu: 0, rcu: 0.5 })
    expect(awsUnits('Query', {}, 200, '{"ConsumedCapacity":{"CapacityUnits":3}}')).toEqual({ wcu: 0, rcu: 3 })
  })

  it('charges nothing for a call DynamoDB refused for another reason', () => {
    expect(awsUnits('PutItem', {}, 400, '{"__type":"com.amazon.coral.validate#ValidationException"}')).toEqual({ wcu: 0, rcu: 0 })
  })

  it('sizes an item as DynamoDB does: names plus values', () => {
    expect(itemSize({ pk: { S: 'abc' }, n: { N: '12345' } })).toBe(2 + 3 + 1 + 4)
  })
})
