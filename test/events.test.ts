import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { topics, type ChatBusEvent, type EventBus, type UserBusEvent } from '../src/domain/events.js'
import { InProcessEventBus } from '../src/infra/events/in-process.js'
import { RedisEventBus } from '../src/infra/events/redis.js'
import { RedisConnections } from '../src/infra/redis/connections.js'

const waitFor = async (condition: () => boolean, ms = 2_000) => {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
const settle = () => new Promise((resolve) => setTimeout(resolve, 100))
const typing = (n: number, chatId = 'c'): ChatBusEvent => ({ kind: 'typing', chatId, userId: `u${n}`, typing: n % 2 === 0 })
const joined = (chatId: string): UserBusEvent => ({ kind: 'chatJoined', chatId })
const numberOf = (event: unknown) => Number((event as { userId: string }).userId.slice(1))

interface Adapter {
  name: string
  /** `onEvent`: the bus's observer of received events (the app counts them for /metrics). */
  create(onEvent: (kind: string) => void): Promise<EventBus>
}

const prefix = `hush-test:${randomBytes(6).toString('hex')}:`
const adapters: Adapter[] = [
  { name: 'in-process', create: async (onEvent) => new InProcessEventBus({ onEvent }) },
  {
    name: 'Redis',
    create: async (onEvent) => {
      const logger = pino({ level: 'silent' })
      const redis = new RedisConnections({ target: { url: inject('redisUrl') }, logger })
      await redis.connect()
      const bus = new RedisEventBus({ redis, prefix, logger, onEvent })
      // The bus leaves the connections to their owner (the app); here that is the test.
      const close = bus.close.bind(bus)
      bus.close = async () => {
        await close()
        await redis.close()
      }
      return bus
    },
  },
]

// One contract, two adapters: whatever the chat code relies on holds for both.
describe.each(adapters)('EventBus contract: $name', (adapter) => {
  let bus: EventBus
  const observed: string[] = []
  beforeAll(async () => {
    bus = await adapter.create((kind) => observed.push(kind))
  })
  afterAll(() => bus.close())

  it('tells its observer of each event it receives once, by kind, however many listen to the topic', async () => {
    const topic = topics.chat(`c${randomBytes(4).toString('hex')}`)
    const heard: number[] = []
    const subscriptions = await Promise.all([1, 2, 3].map((n) => bus.subscribe(topic, { hear: () => heard.push(n) })))
    observed.length = 0
    await bus.publish(topic, typing(1))
    await waitFor(() => heard.length === 3)
    await sleep(50)
    expect(observed).toEqual(['typing'])
    for (const subscription of subscriptions) await subscription.unsubscribe()
  })

  it('delivers events of a topic to its subscribers in publish order, as plain JSON copies', async () => {
    const topic = topics.chat(`c${randomBytes(4).toString('hex')}`)
    const received: unknown[] = []
    const subscription = await bus.subscribe(topic, { hear: (event) => received.push(event) })
    const sent = typing(1)
    await bus.publish(topic, sent)
    for (let n = 2; n <= 50; n++) await bus.publish(topic, typing(n))
    await waitFor(() => received.length === 50)
    expect(received.map(numberOf)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
    expect(received[0]).toEqual(sent)
    expect(received[0]).not.toBe(sent)
    await subscription.unsubscribe()
  })

  it('keeps topics apart: a chat channel never hears a user channel or another chat', async () => {
    const chat = topics.chat(`c${randomBytes(4).toString('hex')}`)
    const otherChat = topics.chat(`c${randomBytes(4).toString('hex')}`)
    const user = topics.user(`u${randomBytes(4).toString('hex')}`)
    const heard: string[] = []
    const subscription = await bus.subscribe(chat, { hear: (event) => heard.push(event.chatId) })
    await bus.publish(otherChat, typing(1, 'other chat'))
    await bus.publish(user, joined('user'))
    await bus.publish(chat, typing(1, 'chat'))
    await waitFor(() => heard.length >= 1)
    await settle()
    expect(heard).toEqual(['chat'])
    await subscription.unsubscribe()
  })

  it('fans out to every subscriber of a topic and stops delivering after unsubscribe', async () => {
    const topic = topics.user(`u${randomBytes(4).toString('hex')}`)
    const first: unknown[] = []
    const second: unknown[] = []
    const before = bus.activeTopics()
    const firstSubscription = await bus.subscribe(topic, { hear: (event) => first.push(event) })
    const secondSubscription = await bus.subscribe(topic, { hear: (event) => second.push(event) })
    expect(bus.activeTopics()).toBe(before + 1)
    await bus.publish(topic, joined('n1'))
    await waitFor(() => first.length === 1 && second.length === 1)
    await firstSubscription.unsubscribe()
    await bus.publish(topic, joined('n2'))
    await waitFor(() => second.length === 2)
    await settle()
    expect(first).toHaveLength(1)
    await secondSubscription.unsubscribe()
    await secondSubscription.unsubscribe()
    expect(bus.activeTopics()).toBe(before)
    await bus.publish(topic, joined('n3'))
    await settle()
    expect(second).toHaveLength(2)
  })
})

describe('Redis adapter', () => {
  it('holds one Redis subscription per channel however many local listeners, and drops it with the last', async () => {
    const logger = pino({ level: 'silent' })
    const redis = new RedisConnections({ target: { url: inject('redisUrl') }, logger })
    await redis.connect()
    const bus = new RedisEventBus({ redis, prefix, logger })
    const admin = new Redis(inject('redisUrl'))
    try {
      const topic = topics.chat(`c${randomBytes(4).toString('hex')}`)
      const numsub = async () => Number((await admin.pubsub('NUMSUB', prefix + topic))[1])
      const stops = await Promise.all(Array.from({ length: 10 }, () => bus.subscribe(topic, { hear: () => {} })))
      expect(await numsub()).toBe(1)
      for (const stop of stops.slice(1)) await stop.unsubscribe()
      expect(await numsub()).toBe(1)
      await stops[0]!.unsubscribe()
      await waitFor(() => bus.activeTopics() === 0)
      await settle()
      expect(await numsub()).toBe(0)
    } finally {
      admin.disconnect()
      await bus.close()
      await redis.close()
    }
  })
})
