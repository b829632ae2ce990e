import { describe, expect, it } from 'vitest'
import { IdList } from '../../src/server/id-list.js'

class Item {
  next: Item | undefined
  constructor(readonly id: string) {}
}

const listOf = (...ids: string[]) => {
  const list = new IdList<Item>()
  const items = ids.map((id) => new Item(id))
  for (const item of items) list.add(item)
  return { list, items }
}

describe('IdList', () => {
  it('finds each item by its id, and nothing for an id it does not hold', () => {
    const { list, items } = listOf('1', '2', '3')
    for (const item of items) expect(list.get(item.id)).toBe(item)
    expect(list.get('4')).toBeUndefined()
  })

  it('removes an item from the front, the middle or the end, keeping the others', () => {
    for (const gone of ['1', '2', '3']) {
      const { list, items } = listOf('1', '2', '3')
      expect(list.remove(gone)?.id).toBe(gone)
      expect(list.get(gone)).toBeUndefined()
      for (const item of items.filter((i) => i.id !== gone)) expect(list.get(item.id)).toBe(item)
      expect(list.remove(gone)).toBeUndefined()
    }
  })

  it('removes only the very item it is given when one is given, so a reused id is left alone', () => {
    const { list, items } = listOf('a')
    list.remove('a')
    const reused = new Item('a')
    list.add(reused)
    expect(list.remove('a', items[0])).toBeUndefined()
    expect(list.get('a')).toBe(reused)
    expect(list.remove('a', reused)).toBe(reused)
  })

  it('hands over everything it held when emptied, and is empty after', () => {
    const { list, items } = listOf('1', '2', '3')
    expect(new Set(list.takeAll())).toEqual(new Set(items))
    for (const item of items) expect(list.get(item.id)).toBeUndefined()
    expect(list.takeAll()).toEqual([])
  })
})
