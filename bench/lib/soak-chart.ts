/**
 * The soak's chart: one small line panel per series over the run's minutes, as an SVG that sharp
 * (already Hush's image library) renders to PNG. Nothing here measures; it only draws.
 */
import sharp from 'sharp'

export interface ChartSeries {
  title: string
  unit: string
  values: number[]
}

const PANEL_W = 560
const PANEL_H = 150
const PAD = { left: 70, right: 20, top: 28, bottom: 26 }

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;')

function panel(series: ChartSeries, minutes: number[], warmupMin: number, x0: number, y0: number): string {
  const w = PANEL_W - PAD.left - PAD.right
  const h = PANEL_H - PAD.top - PAD.bottom
  const max = Math.max(...series.values, 1e-9) * 1.15
  const tMax = Math.max(...minutes, 1)
  const px = (t: number) => x0 + PAD.left + (t / tMax) * w
  const py = (v: number) => y0 + PAD.top + h - (v / max) * h
  const points = series.values.map((v, i) => `${px(minutes[i]!).toFixed(1)},${py(v).toFixed(1)}`).join(' ')
  const ticks = [0, max / 2, max]
    .map((v) => `<text x="${x0 + PAD.left - 6}" y="${py(v) + 4}" text-anchor="end" font-size="11">${v >= 100 ? v.toFixed(0) : v.toFixed(1)}</text>`)
    .join('')
  const warm = `<rect x="${px(0)}" y="${y0 + PAD.top}" width="${px(Math.min(warmupMin, tMax)) - px(0)}" height="${h}" fill="#eee"/>`
  return [
    warm,
    `<text x="${x0 + PAD.left}" y="${y0 + 18}" font-size="13" font-weight="bold">${escape(series.title)} (${escape(series.unit)})</text>`,
    `<line x1="${px(0)}" y1="${py(0)}" x2="${px(tMax)}" y2="${py(0)}" stroke="#999"/>`,
    `<line x1="${px(0)}" y1="${py(0)}" x2="${px(0)}" y2="${py(max)}" stroke="#999"/>`,
    ticks,
    `<text x="${px(tMax)}" y="${y0 + PANEL_H - 6}" text-anchor="end" font-size="11">${tMax.toFixed(0)} min</text>`,
    `<polyline fill="none" stroke="#1f6feb" stroke-width="2" points="${points}"/>`,
  ].join('\n')
}

/** Writes a PNG of every series, two panels a row; the warm-up is shaded. */
export async function drawSoakChart(file: string, title: string, minutes: number[], series: ChartSeries[], warmupMin: number): Promise<void> {
  const rows = Math.ceil(series.length / 2)
  const width = PANEL_W * 2
  const height = rows * PANEL_H + 40
  const panels = series.map((s, i) => panel(s, minutes, warmupMin, (i % 2) * PANEL_W, 40 + Math.floor(i / 2) * PANEL_H))
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="12" y="26" font-size="15">${escape(title)}</text>
${panels.join('\n')}
</svg>`
  await sharp(Buffer.from(svg)).png().toFile(file)
}
