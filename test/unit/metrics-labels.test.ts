import { describe, expect, it } from 'vitest'
import { PrometheusMetrics } from '../../src/infra/metrics/prometheus.js'

describe('operation metrics', () => {
  it('label at most 200 distinct operation names, then count the rest as "other"', async () => {
    const metrics = new PrometheusMetrics()
    for (let i = 0; i < 300; i++) metrics.operation(`Op${i}`, 'query', 'http', 0.001)
    metrics.operation('Op0', 'query', 'http', 0.001)
    const { body } = await metrics.render()
    const names = new Set([...body.matchAll(/hush_operation_duration_seconds_count\{operation="([^"]+)"/g)].map((match) => match[1]))
    expect(names.size).toBe(201)
    expect(names.has('other')).toBe(true)
    expect(body).toContain('hush_operation_duration_seconds_count{operation="other",type="query",transport="http"} 100')
    expect(body).toContain('hush_operation_duration_seconds_count{operation="Op0",type="query",transport="http"} 2')
  })
})
