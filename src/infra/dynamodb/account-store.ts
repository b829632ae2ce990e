import { PutItemCommand } from 'dynamodb-toolbox/entity/actions/put'
import type { AccountRecord, AccountStore } from '../../domain/ports.js'
import type { HushEntities } from './entities.js'

export class DynamoAccountStore implements AccountStore {
  constructor(private readonly entities: HushEntities) {}

  async create(account: AccountRecord): Promise<void> {
    await this.entities.User.build(PutItemCommand)
      .item(account)
      .options({ condition: { attr: 'userId', exists: false } })
      .send()
  }
}
