import { isDeepStrictEqual } from 'node:util';
import { BadRequestException, Injectable, type OnModuleInit } from '@nestjs/common';
import type { PolicyChange as Change, PolicyContract } from '../probes/probe-definition.js';
import type { ProbeResult } from '../probes/probe.types.js';
import { PROBES } from '../probes/registry.js';
import { ChangesRepository, type PolicyChange } from '../storage/changes.repository.js';
import { decodeCursor, encodeCursor } from '../storage/history-cursor.js';
import { DomainsService } from './domains.service.js';
import { EventBus, type CheckCompletedEvent } from './events.js';

/** What one run changed, probe by probe: pure, so the rule "untestable is never a change" is tested without a database. */
export function comparePolicies(
  probes: ReadonlyArray<{ name: string; policy?: PolicyContract }>,
  results: readonly ProbeResult[],
  previous: ReadonlyMap<string, unknown>,
): { states: Array<{ probe: string; state: object }>; changes: Array<Change & { probe: string }> } {
  const states: Array<{ probe: string; state: object }> = [];
  const changes: Array<Change & { probe: string }> = [];
  for (const probe of probes) {
    if (!probe.policy) continue;
    const own = results.filter((r) => r.probe === probe.name);
    const state = probe.policy.state(own);
    // Untestable (or not run): nothing learnt, the last conclusive state stays the reference.
    if (state === undefined) continue;
    states.push({ probe: probe.name, state });
    const before = previous.get(probe.name);
    // The first conclusive run is where the history starts, not a change.
    if (before === undefined || before === null) continue;
    for (const c of probe.policy.diff(before as object, state)) changes.push({ probe: probe.name, ...c });
  }
  return { states, changes };
}

/**
 * The states to write: those that differ from the stored ones. A run that changed nothing (most
 * runs, at steady state) writes nothing, where a transaction rewriting equal states cost ~1 ms of
 * CPU per domain. Compared in their stored form (JSON: no undefined, dates as strings, key order free).
 */
export function statesToStore(states: Array<{ probe: string; state: object }>, previous: ReadonlyMap<string, unknown>): Array<{ probe: string; state: object }> {
  return states.filter((s) => !previous.has(s.probe) || !isDeepStrictEqual(previous.get(s.probe), JSON.parse(JSON.stringify(s.state))));
}

export function changeToDto(c: PolicyChange) {
  return { id: c.id.toString(), probe: c.probe, kind: c.kind, weakening: c.weakening, severity: c.weakening ? 'warning' : 'info', text: c.text, observedAt: c.observedAt.toISOString() };
}

/**
 * Keeps each domain's observed policy (MX set, SPF, DMARC, DKIM keys, BIMI) and records a
 * semantic change when two conclusive runs differ; announces them as `policy.changed`
 * (notifications, metrics).
 */
@Injectable()
export class PolicyChangesService implements OnModuleInit {
  constructor(
    private readonly repo: ChangesRepository,
    private readonly events: EventBus,
    private readonly domains: DomainsService,
  ) {}

  onModuleInit(): void {
    this.events.on('check.completed', (c) => this.onCompleted(c));
  }

  async onCompleted(c: CheckCompletedEvent): Promise<void> {
    const previous = c.policyStates;
    const { states, changes } = comparePolicies(PROBES, c.results, previous);
    const fresh = statesToStore(states, previous);
    if (fresh.length === 0 && changes.length === 0) return;
    const stored = await this.repo.record(c.domain.id, fresh, changes, c.finishedAt);
    if (stored.length === 0) return;
    await this.events.emit('policy.changed', {
      domain: { id: c.domain.id, name: c.domain.name, labels: c.domain.labels as Record<string, string> },
      observedAt: c.finishedAt,
      changes: stored.map((s) => ({ id: s.id.toString(), probe: s.probe, kind: s.kind, weakening: s.weakening, text: s.text })),
    });
  }

  async list(name: string, q: { limit?: number; cursor?: string }) {
    const domain = await this.domains.getRow(name);
    let after: { observedAt: Date; id: bigint } | undefined;
    if (q.cursor !== undefined) {
      const c = decodeCursor(q.cursor);
      if (!c) throw new BadRequestException(['cursor is not a cursor returned by this endpoint']);
      after = { observedAt: c.startedAt, id: c.id };
    }
    const limit = q.limit ?? 50;
    const rows = await this.repo.list({ domainId: domain.id, limit: limit + 1, after });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { items: page.map(changeToDto), nextCursor: rows.length > limit && last ? encodeCursor(last.observedAt, last.id) : null };
  }
}
