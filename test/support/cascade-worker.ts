import { pino } from 'pino'
import { ChatReclaimer } from '../../src/infra/dynamodb/chat-reclaimer.js'
import { createDynamoClients } from '../../src/infra/dynamodb/client.js'
import { createEntities } from '../../src/infra/dynamodb/entities.js'
import { ExpiryCascade } from '../../src/infra/dynamodb/expiry-cascade.js'
import { createHushTable } from '../../src/infra/dynamodb/table.js'

/**
 * An expiry cascade alone in its own OS process (test/expiry-leases.test.ts kills it with
 * SIGKILL): the endpoint, region, table and lease owner come from the environment; it logs JSON
 * lines on stdout.
 */
const { DYNAMODB_ENDPOINT, DYNAMODB_REGION, DYNAMODB_TABLE, OWNER_ID } = process.env
const logger = pino({ level: 'info' })
const clients = createDynamoClients(DYNAMODB_ENDPOINT, DYNAMODB_REGION)
const entities = createEntities(createHushTable(clients.documentClient, DYNAMODB_TABLE!))
const cascade = new ExpiryCascade({
  ...clients,
  tableName: DYNAMODB_TABLE!,
  entities,
  reclaimer: new ChatReclaimer(entities, logger),
  logger,
  ownerId: OWNER_ID,
})
await cascade.start()
logger.info({ ownerId: cascade.ownerId }, 'cascade worker started')
