import { Injectable } from '@nestjs/common';
import type { ProbeResult, ProbeStatus } from '../probes/probe.types.js';
import type { DomainRow } from '../storage/domains.repository.js';
import type { Finding } from '../storage/findings.repository.js';

export interface DomainRef {
  id: string;
  name: string;
  labels: Record<string, string>;
}

export interface CheckCompletedEvent {
  domain: DomainRow;
  trigger: 'manual' | 'schedule';
  results: ProbeResult[];
  startedAt: Date;
  finishedAt: Date;
  status: ProbeStatus;
  opened: Finding[];
  resolved: Finding[];
  /** The domain's last policy states per probe as they were before this run, read with its findings. */
  policyStates: ReadonlyMap<string, unknown>;
}

export interface FindingTransition {
  kind: 'opened' | 'resolved';
  finding: Finding;
  /** null: a finding about mxwatch itself (its resolver, its DNSBL path), kept once for every domain. */
  domain: DomainRef | null;
}

/**
 * What one domain's run opened and resolved among the findings about mxwatch itself (stored
 * without a domain): told apart from `check.completed` so no domain's message carries them.
 */
export interface MonitorTransitionsEvent {
  opened: Finding[];
  resolved: Finding[];
  at: Date;
}

/** Published policy that changed between two conclusive runs of one domain (runtime/policy-changes.service.ts). */
export interface PolicyChangedEvent {
  domain: DomainRef;
  observedAt: Date;
  changes: Array<{ id: string; probe: string; kind: string; weakening: boolean; text: string }>;
}

export interface DomainRetiredEvent {
  name: string;
  reason: 'deleted' | 'disabled';
}

/** A domain's settings changed (API or configuration file): a check queued before must not run on the old row. */
export interface DomainChangedEvent {
  name: string;
}

/** Every event of the service, by name. Metrics, notifications and the status pages subscribe. */
export interface MxwatchEvents {
  'check.completed': CheckCompletedEvent;
  'finding.opened': FindingTransition;
  'finding.resolved': FindingTransition;
  'monitor.transitions': MonitorTransitionsEvent;
  'domain.retired': DomainRetiredEvent;
  'domain.changed': DomainChangedEvent;
  'policy.changed': PolicyChangedEvent;
}

type Listener<T> = (payload: T) => void | Promise<void>;

/**
 * One small typed bus instead of one hand-made emitter per feature. `emit` awaits every listener
 * in subscription order, so a listener that stores something (a notification row) has stored it
 * when the emitting check returns; a listener that throws is logged by the emitter's caller and
 * never stops the others.
 */
@Injectable()
export class EventBus {
  private readonly listeners = new Map<keyof MxwatchEvents, Array<Listener<never>>>();
  private onError: (event: string, err: unknown) => void = () => {};

  on<K extends keyof MxwatchEvents>(event: K, listener: Listener<MxwatchEvents[K]>): () => void {
    const list = this.listeners.get(event) ?? [];
    list.push(listener as Listener<never>);
    this.listeners.set(event, list);
    return () => {
      const i = list.indexOf(listener as Listener<never>);
      if (i >= 0) list.splice(i, 1);
    };
  }

  /** Where listener failures go (the app logger); they never reach the emitter. */
  reportErrorsTo(handler: (event: string, err: unknown) => void): void {
    this.onError = handler;
  }

  async emit<K extends keyof MxwatchEvents>(event: K, payload: MxwatchEvents[K]): Promise<void> {
    for (const listener of this.listeners.get(event) ?? []) {
      try {
        await (listener as Listener<MxwatchEvents[K]>)(payload);
      } catch (err) {
        this.onError(event, err);
      }
    }
  }
}
