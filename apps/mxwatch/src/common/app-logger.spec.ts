import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { AppLogger } from './app-logger.js';

function capture(): { logger: AppLogger; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { logger: new AppLogger('debug', sink), lines: () => chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe(AppLogger.name, () => {
  const saved = process.listeners('warning');
  afterEach(() => {
    process.removeAllListeners('warning');
    for (const l of saved) process.on('warning', l);
  });

  it("should drop Nest's route-mapping lines and keep the module list at debug", () => {
    const { logger, lines } = capture();
    logger.log('Mapped {/api/v1/health/live, GET} route', 'RouterExplorer');
    logger.log('HealthController {/api/v1/health}:', 'RoutesResolver');
    logger.log('ConfigModule dependencies initialized', 'InstanceLoader');
    logger.error('route failed', 'RouterExplorer');
    expect(lines().map((l) => [l.level, l.context, l.msg])).toEqual([
      ['debug', 'InstanceLoader', 'ConfigModule dependencies initialized'],
      ['error', 'RouterExplorer', 'route failed'],
    ]);
  });

  it('should write process warnings as JSON lines of its log, in place of the plain-text printer', async () => {
    const { logger, lines } = capture();
    logger.captureProcessWarnings();
    logger.captureProcessWarnings();
    expect(process.listeners('warning')).toHaveLength(1);
    process.emitWarning('Possible EventTarget memory leak detected. 11 abort listeners added to [AbortSignal].', 'MaxListenersExceededWarning');
    await new Promise((r) => setImmediate(r));
    expect(lines()).toEqual([expect.objectContaining({ level: 'warn', context: 'Process', warning: 'MaxListenersExceededWarning', msg: expect.stringContaining('11 abort listeners') })]);
  });
});
