import { ConflictException, Inject, Injectable, NotFoundException, type OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig, DomainSpec } from '../config/config.types.js';
import { AppLogger } from '../common/app-logger.js';
import { normaliseDomainName } from '../transport/dns/dns-names.js';
import { DomainExistsError, DomainsRepository, type DomainRow } from '../storage/domains.repository.js';
import { EventBus } from './events.js';

/** What the API hands over to create a domain (api/domain.dto.ts validates it first). */
export interface CreateDomainInput {
  toSpec(): DomainSpec;
}

/** The fields a PATCH may change; absent ones stay as they are. */
export interface UpdateDomainInput {
  intervalSeconds?: number | null;
  submissionHosts?: string[];
  sendingIps?: string[];
  dkimSelectors?: string[];
  labels?: Record<string, string>;
  enabled?: boolean;
}

/** A domain as the API shows it. */
export interface DomainView {
  name: string;
  intervalSeconds: number | null;
  effectiveIntervalSeconds: number;
  submissionHosts: string[];
  sendingIps: string[];
  dkimSelectors: string[];
  labels: Record<string, string>;
  enabled: boolean;
  source: string;
  lastCheckAt: string | null;
  nextCheckAt: string | null;
  createdAt: string;
  updatedAt: string;
}

@Injectable()
export class DomainsService implements OnApplicationBootstrap {
  constructor(
    private readonly repo: DomainsRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly logger: AppLogger,
    private readonly events: EventBus,
  ) {}

  /** The YAML file's domains are synced before the API and scheduler start. */
  async onApplicationBootstrap(): Promise<void> {
    if (this.config.domains === null) return;
    const specs = this.config.domains.map(complete);
    const r = await this.repo.syncConfigDomains(specs, () => this.firstCheckAt(true));
    // Counts, and names only while they fit on a line: a file may hold thousands of domains.
    const names = (list: string[]) => (list.length <= 20 ? list : [...list.slice(0, 20), `… ${list.length - 20} more`]);
    this.logger.log(
      { msg: 'domains synced from config file', file: this.config.configFile, added: r.added.length, updated: r.updated.length, removed: r.removed.length, addedNames: names(r.added), updatedNames: names(r.updated), removedNames: names(r.removed) },
      'Domains',
    );
    for (const name of r.removed) await this.events.emit('domain.retired', { name, reason: 'deleted' });
    for (const name of r.updated) await this.events.emit('domain.changed', { name });
    for (const spec of specs) if (!spec.enabled) await this.events.emit('domain.retired', { name: spec.name, reason: 'disabled' });
  }

  async create(dto: CreateDomainInput): Promise<DomainView> {
    const spec = complete(dto.toSpec());
    try {
      return this.toDto(await this.repo.create(spec, 'api', this.firstCheckAt()));
    } catch (e) {
      if (e instanceof DomainExistsError) throw new ConflictException(`domain ${spec.name} is already monitored`);
      throw e;
    }
  }

  /** Every domain, or those carrying all of `labels`. */
  async list(labels: Record<string, string> = {}): Promise<DomainView[]> {
    const wanted = Object.entries(labels);
    const rows = await this.repo.list();
    const matching = wanted.length === 0 ? rows : rows.filter((d) => wanted.every(([k, v]) => (d.labels as Record<string, unknown>)?.[k] === v));
    return matching.map((d) => this.toDto(d));
  }

  async get(name: string): Promise<DomainView> {
    return this.toDto(await this.getRow(name));
  }

  async getRow(name: string): Promise<DomainRow> {
    const key = lookupName(name);
    const row = key ? await this.repo.findByName(key) : null;
    if (!row) throw new NotFoundException(`domain ${name} is not monitored`);
    return row;
  }

  async update(name: string, dto: UpdateDomainInput): Promise<DomainView> {
    const key = lookupName(name);
    await this.assertApiManaged(key);
    const data: Record<string, unknown> = {};
    if (dto.intervalSeconds !== undefined) data.intervalSeconds = dto.intervalSeconds;
    if (dto.submissionHosts !== undefined) data.submissionHosts = [...new Set(dto.submissionHosts.map((h) => lookupName(h)!))];
    if (dto.sendingIps !== undefined) data.sendingIps = [...new Set(dto.sendingIps)];
    if (dto.dkimSelectors !== undefined) data.dkimSelectors = [...new Set(dto.dkimSelectors.map((s) => s.toLowerCase()))];
    if (dto.labels !== undefined) data.labels = dto.labels;
    if (dto.enabled !== undefined) data.enabled = dto.enabled;
    const row = key ? await this.repo.update(key, data) : null;
    if (!row) throw new NotFoundException(`domain ${name} is not monitored`);
    await this.events.emit('domain.changed', { name: row.name });
    // A disabled domain is not checked: its series would go stale and trip "checks stalled".
    if (dto.enabled === false) await this.events.emit('domain.retired', { name: row.name, reason: 'disabled' });
    return this.toDto(row);
  }

  async delete(name: string): Promise<void> {
    const key = lookupName(name);
    await this.assertApiManaged(key);
    const row = key ? await this.repo.delete(key) : null;
    if (!row) throw new NotFoundException(`domain ${name} is not monitored`);
    await this.events.emit('domain.retired', { name: row.name, reason: 'deleted' });
  }

  /**
   * A domain the YAML file manages comes back as the file says at the next start: changing or
   * deleting it over the API would look done and silently be undone, so it is refused (409) with
   * the file to edit instead. Once the file has no `domains:` section it manages none any more.
   */
  private async assertApiManaged(key: string | null): Promise<void> {
    if (key === null || this.config.domains === null) return;
    const row = await this.repo.findByName(key);
    if (row?.source === 'config') {
      throw new ConflictException(`domain ${row.name} comes from the configuration file ${this.config.configFile ?? '(MXWATCH_CONFIG)'}: change or remove it there; the file is synced at every start`);
    }
  }

  effectiveInterval(row: Pick<DomainRow, 'intervalSeconds'>): number {
    return row.intervalSeconds ?? this.config.checkIntervalSeconds;
  }

  toDto(row: DomainRow): DomainView {
    return {
      name: row.name,
      intervalSeconds: row.intervalSeconds,
      effectiveIntervalSeconds: this.effectiveInterval(row),
      submissionHosts: row.submissionHosts,
      sendingIps: row.sendingIps,
      dkimSelectors: row.dkimSelectors,
      labels: row.labels as Record<string, string>,
      enabled: row.enabled,
      source: row.source,
      lastCheckAt: row.lastCheckAt?.toISOString() ?? null,
      nextCheckAt: row.nextCheckAt?.toISOString() ?? null,
      createdAt: row.createdAt.toISOString(),
      updatedAt: row.updatedAt.toISOString(),
    };
  }

  /**
   * A domain added over the API is checked within seconds. Domains synced from the file (possibly
   * thousands at once) are spread over a whole interval so they never fire together.
   */
  private firstCheckAt(bulk = false): Date {
    const spreadSeconds = bulk ? this.config.checkIntervalSeconds : Math.min(5, this.config.checkIntervalSeconds);
    return new Date(Date.now() + Math.floor(Math.random() * spreadSeconds * 1000));
  }
}

function complete(spec: DomainSpec): Required<DomainSpec> {
  return {
    name: spec.name,
    intervalSeconds: spec.intervalSeconds ?? null,
    submissionHosts: spec.submissionHosts ?? [],
    sendingIps: spec.sendingIps ?? [],
    dkimSelectors: spec.dkimSelectors ?? [],
    labels: spec.labels ?? {},
    enabled: spec.enabled ?? true,
  };
}

/** Path parameters are looked up in normal form so `Example.COM.` and IDNs find their domain. */
function lookupName(name: string): string | null {
  const r = normaliseDomainName(name);
  return r.ok ? r.name : null;
}
