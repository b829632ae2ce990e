import { isConditionalCheckFailure } from './client.js'
import { GetItemCommand } from 'dynamodb-toolbox/entity/actions/get'
import { PutItemCommand } from 'dynamodb-toolbox/entity/actions/put'
import { UpdateItemCommand } from 'dynamodb-toolbox/entity/actions/update'
import type { PhotoRecord, PhotoStore } from '../../domain/ports.js'
import type { HushEntities } from './entities.js'

export class DynamoPhotoStore implements PhotoStore {
  constructor(private readonly entities: HushEntities) {}

  async putPhoto(photo: PhotoRecord): Promise<void> {
    await this.entities.Photo.build(PutItemCommand)
      .item(photo)
      .options({ condition: { attr: 'photoId', exists: false } })
      .send()
  }

  async getPhoto(chatId: string, photoId: string): Promise<PhotoRecord | undefined> {
    const { Item } = await this.entities.Photo.build(GetItemCommand).key({ chatId, photoId }).options({ consistent: true }).send()
    return Item && { ...Item, viewedAt: Item.viewedAt }
  }

  async claimView(chatId: string, photoId: string, now: number): Promise<boolean> {
    try {
      await this.entities.Photo.build(UpdateItemCommand)
        .item({ chatId, photoId, viewedAt: now })
        .options({ condition: { and: [{ attr: 'photoId', exists: true }, { attr: 'viewedAt', exists: false }] } })
        .send()
      return true
    } catch (error) {
      if (isConditionalCheckFailure(error)) return false
      throw error
    }
  }
}
