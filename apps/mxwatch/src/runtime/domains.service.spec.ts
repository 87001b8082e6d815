import { ConflictException, NotFoundException } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import type { AppConfig } from '../config/config.types.js';
import type { AppLogger } from '../common/app-logger.js';
import type { DomainRow, DomainsRepository } from '../storage/domains.repository.js';
import { EventBus } from './events.js';
import { DomainsService } from './domains.service.js';

function row(name: string, source: 'api' | 'config'): DomainRow {
  const at = new Date('2026-03-01T10:00:00Z');
  return { id: `id-${name}`, name, source, intervalSeconds: null, submissionHosts: [], sendingIps: [], dkimSelectors: [], labels: {}, enabled: true, nextCheckAt: null, lastCheckAt: null, createdAt: at, updatedAt: at } as unknown as DomainRow;
}

/** A repository stub over a map: records what was changed. */
function repoWith(rows: DomainRow[]) {
  const byName = new Map(rows.map((r) => [r.name, r]));
  const changed: string[] = [];
  const repo = {
    findByName: async (n: string) => byName.get(n) ?? null,
    update: async (n: string) => (changed.push(`update ${n}`), byName.get(n) ?? null),
    delete: async (n: string) => (changed.push(`delete ${n}`), byName.get(n) ?? null),
  } as unknown as DomainsRepository;
  return { repo, changed };
}

describe(DomainsService.name, () => {
  const config = (domains: AppConfig['domains']) => ({ domains, configFile: '/etc/mxwatch/mxwatch.yml', checkIntervalSeconds: 300 }) as AppConfig;
  const make = (rows: DomainRow[], domains: AppConfig['domains'] = [{ name: 'file.example' }]) => {
    const { repo, changed } = repoWith(rows);
    return { service: new DomainsService(repo, config(domains), {} as AppLogger, new EventBus()), changed };
  };

  it('should refuse PATCH and DELETE of a domain from the YAML file with 409 naming the file, changing nothing', async () => {
    const { service, changed } = make([row('file.example', 'config')]);
    for (const attempt of [() => service.update('File.Example.', { enabled: false } as never), () => service.delete('file.example')]) {
      const err = await attempt().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConflictException);
      expect((err as ConflictException).message).toBe(
        'domain file.example comes from the configuration file /etc/mxwatch/mxwatch.yml: change or remove it there; the file is synced at every start',
      );
    }
    expect(changed).toEqual([]);
  });

  it('should still change and delete domains created over the API', async () => {
    const { service, changed } = make([row('api.example', 'api')]);
    await service.update('api.example', { labels: { team: 'mail' } } as never);
    await service.delete('api.example');
    expect(changed).toEqual(['update api.example', 'delete api.example']);
  });

  it('should announce every change of a domain, so a check queued with its old row does not run on it', async () => {
    const { repo } = repoWith([row('api.example', 'api')]);
    const events = new EventBus();
    const seen: string[] = [];
    events.on('domain.changed', (e) => void seen.push(`changed ${e.name}`));
    events.on('domain.retired', (e) => void seen.push(`${e.reason} ${e.name}`));
    const service = new DomainsService(repo, config(null), {} as AppLogger, events);
    await service.update('API.example.', { dkimSelectors: ['s1'] });
    await service.update('api.example', { enabled: false });
    await service.delete('api.example');
    expect(seen).toEqual(['changed api.example', 'changed api.example', 'disabled api.example', 'deleted api.example']);
  });

  it('should let the API manage a former file domain once the file has no domains section', async () => {
    const { service, changed } = make([row('file.example', 'config')], null);
    await service.delete('file.example');
    expect(changed).toEqual(['delete file.example']);
  });

  it('should answer 404 for an unknown domain', async () => {
    const { service } = make([]);
    await expect(service.delete('nope.example')).rejects.toBeInstanceOf(NotFoundException);
  });
});
