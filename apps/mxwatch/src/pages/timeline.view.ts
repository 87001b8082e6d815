import type { TimelineCell } from '../storage/pages.repository.js';
import { html, type Html } from './html.template.js';

export type CellState = 'pass' | 'warn' | 'fail' | 'untestable' | 'none';

/** fail > warn > untestable > pass, as a run's worst status: a day with one failure shows the failure. */
export function cellState(c: Pick<TimelineCell, 'pass' | 'warn' | 'fail' | 'untestable'> | undefined): CellState {
  if (!c) return 'none';
  if (c.fail > 0) return 'fail';
  if (c.warn > 0) return 'warn';
  if (c.untestable > 0) return 'untestable';
  if (c.pass > 0) return 'pass';
  return 'none';
}

const FILL: Record<CellState, string> = { pass: '#1b6e3a', warn: '#e0a200', fail: '#a4161a', untestable: '#ffffff', none: '#e3e5e8' };
const STROKE: Record<CellState, string> = { pass: 'none', warn: 'none', fail: 'none', untestable: '#5f6368', none: 'none' };
const LABEL: Record<CellState, string> = { pass: 'pass', warn: 'warn', fail: 'fail', untestable: 'untestable', none: 'no data' };

export interface StripOptions {
  probe: string;
  cells: readonly TimelineCell[];
  /** Start of bucket 0. */
  since: Date;
  bucketMs: number;
  buckets: number;
}

const CELL = 10;
const GAP = 2;
const HEIGHT = 16;

/**
 * One probe's history as a strip of cells, oldest left. Shape carries meaning besides colour:
 * untestable is an outline, "no data" a short grey bar. The whole strip is one image whose
 * label says how many buckets were in each state; each cell has a tooltip with its counts.
 */
export function timelineStrip(o: StripOptions): Html {
  const byBucket = new Map(o.cells.filter((c) => c.probe === o.probe).map((c) => [c.bucket, c]));
  const totals: Record<CellState, number> = { pass: 0, warn: 0, fail: 0, untestable: 0, none: 0 };
  const rects: Html[] = [];
  for (let i = 0; i < o.buckets; i++) {
    const cell = byBucket.get(i);
    const state = cellState(cell);
    totals[state]++;
    const start = new Date(o.since.getTime() + i * o.bucketMs);
    const label = `${start.toISOString().slice(0, 10)}: ${cell ? `${cell.pass} pass, ${cell.warn} warn, ${cell.fail} fail, ${cell.untestable} untestable` : 'no data'}`;
    const x = i * (CELL + GAP);
    const short = state === 'none';
    rects.push(
      html`<rect class="cell ${state}" data-state="${state}" x="${x + (state === 'untestable' ? 0.75 : 0)}" y="${short ? HEIGHT - 4 : state === 'untestable' ? 0.75 : 0}" width="${state === 'untestable' ? CELL - 1.5 : CELL}" height="${short ? 4 : state === 'untestable' ? HEIGHT - 1.5 : HEIGHT}" fill="${FILL[state]}" stroke="${STROKE[state]}" stroke-width="1.5"><title>${label}</title></rect>`,
    );
  }
  const width = o.buckets * (CELL + GAP) - GAP;
  const summary = (['fail', 'warn', 'untestable', 'pass', 'none'] as const)
    .filter((s) => totals[s] > 0)
    .map((s) => `${totals[s]} ${LABEL[s]}`)
    .join(', ');
  const days = Math.round((o.buckets * o.bucketMs) / 86_400_000);
  return html`<svg viewBox="0 0 ${width} ${HEIGHT}" preserveAspectRatio="none" role="img" aria-label="${o.probe}, last ${days} days: ${summary}" data-probe="${o.probe}" xmlns="http://www.w3.org/2000/svg">${rects}</svg>`;
}

/** The key to the strips' colours and shapes. */
export function timelineLegend(): Html {
  const items = (['pass', 'warn', 'fail', 'untestable', 'none'] as const).map((s) => {
    const short = s === 'none';
    return html`<li><svg viewBox="0 0 10 16" aria-hidden="true"><rect x="${s === 'untestable' ? 0.75 : 0}" y="${short ? 12 : s === 'untestable' ? 0.75 : 0}" width="${s === 'untestable' ? 8.5 : 10}" height="${short ? 4 : s === 'untestable' ? 14.5 : 16}" fill="${FILL[s]}" stroke="${STROKE[s]}" stroke-width="1.5"/></svg>${LABEL[s]}</li>`;
  });
  return html`<ul class="legend" aria-label="Legend">${items}</ul>`;
}
