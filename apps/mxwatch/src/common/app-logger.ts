import type { LoggerService } from '@nestjs/common';
import { pino, type Logger } from 'pino';

/**
 * Structured JSON logs (pino) for Nest and for our own code. One line per event, with
 * `context` naming the component, so operators can ship them to Loki/ELK as they are.
 */
/**
 * Nest's start-up chatter: one line per route (28 of 39 start-up lines, with prefixes that the
 * exclusions of `setGlobalPrefix` make wrong, e.g. `/api/v1/health`) is dropped; the module list
 * is kept for debugging. OpenAPI at /api/docs is the accurate list of routes.
 */
const DROPPED_CONTEXTS = new Set(['RoutesResolver', 'RouterExplorer']);
const DEBUG_CONTEXTS = new Set(['InstanceLoader']);

export class AppLogger implements LoggerService {
  readonly pino: Logger;
  private capturingWarnings = false;

  constructor(level: string = 'info', destination?: NodeJS.WritableStream) {
    this.pino = pino(
      { level, base: { service: 'mxwatch' }, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
      destination ?? pino.destination({ dest: 1, sync: true }),
    );
  }

  log(message: unknown, ...rest: unknown[]): void {
    this.write('info', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.write('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('trace', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.write('fatal', message, rest);
  }

  /**
   * Process warnings (MaxListenersExceededWarning, deprecations) as JSON lines of this log instead
   * of Node's plain-text lines on stderr, which break a JSON log pipeline. Node prints them through
   * its own 'warning' listener; that one is replaced.
   */
  captureProcessWarnings(): void {
    if (this.capturingWarnings) return;
    this.capturingWarnings = true;
    process.removeAllListeners('warning');
    process.on('warning', (w: Error & { code?: string }) => {
      this.pino.warn({ context: 'Process', warning: w.name, ...(w.code ? { code: w.code } : {}), stack: w.stack }, w.message);
    });
  }

  /** Nest passes (message, context) or (message, stack, context). */
  private write(level: 'info' | 'error' | 'warn' | 'debug' | 'trace' | 'fatal', message: unknown, rest: unknown[]): void {
    const context = rest.length > 0 && typeof rest[rest.length - 1] === 'string' ? (rest[rest.length - 1] as string) : undefined;
    if (context !== undefined && level !== 'error' && level !== 'fatal') {
      if (DROPPED_CONTEXTS.has(context)) return;
      if (DEBUG_CONTEXTS.has(context)) level = 'debug';
    }
    const stack = rest.length > 1 && typeof rest[0] === 'string' ? rest[0] : undefined;
    const fields: Record<string, unknown> = {};
    if (context) fields.context = context;
    if (stack) fields.stack = stack;
    if (message instanceof Error) {
      this.pino[level]({ ...fields, err: message }, message.message);
    } else if (typeof message === 'object' && message !== null) {
      this.pino[level]({ ...fields, ...(message as Record<string, unknown>) });
    } else {
      this.pino[level](fields, String(message));
    }
  }
}
