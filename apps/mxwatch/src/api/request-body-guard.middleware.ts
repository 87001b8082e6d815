import { BadRequestException, Injectable, type NestMiddleware, UnsupportedMediaTypeException } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

/** No route of ours takes more than a few levels (labels are depth 2); 5,000 levels overflowed class-transformer's stack (a 500). */
export const MAX_JSON_DEPTH = 32;

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/**
 * The first problem of a parsed JSON value, walked without recursion so that depth itself cannot
 * overflow the stack: too deep, or a NUL in a string or a key (PostgreSQL refuses U+0000 in text,
 * and a name or label carrying one is never what the operator meant).
 */
export function jsonProblem(value: unknown, root: string): string | null {
  const stack: Array<{ value: unknown; path: string; depth: number }> = [{ value, path: root, depth: 0 }];
  while (stack.length > 0) {
    const { value: v, path, depth } = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return `${path} contains a NUL character (U+0000), which is not allowed`;
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth >= MAX_JSON_DEPTH) return `${root} is nested deeper than ${MAX_JSON_DEPTH} levels`;
    const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x] as const) : Object.entries(v);
    for (const [k, x] of entries) {
      if (k.includes('\u0000')) return `${path} has a key with a NUL character (U+0000), which is not allowed`;
      const child = Array.isArray(v) ? `${path}[${k}]` : path === root && root === 'body' ? k : `${path}.${k}`;
      stack.push({ value: x, path: child, depth: depth + 1 });
    }
  }
  return null;
}

/**
 * Refuses, before validation and class-transformer see them, what they would turn into a 500 or a
 * database error: a body that is not JSON on an API route (415), JSON nested too deep, and a NUL
 * byte in the body, the query or the path (400, with a message that names the field).
 */
@Injectable()
export class RequestBodyGuardMiddleware implements NestMiddleware {
  use(req: Request, _res: Response, next: NextFunction): void {
    if (req.originalUrl.startsWith('/api/') && BODY_METHODS.has(req.method) && hasBody(req) && !JSON_TYPE.test(req.headers['content-type'] ?? '')) {
      throw new UnsupportedMediaTypeException(`request body must be JSON (Content-Type: application/json), not ${req.headers['content-type'] ? `"${req.headers['content-type']}"` : 'untyped'}`);
    }
    let path = req.originalUrl.split('?')[0] ?? '';
    try {
      path = decodeURIComponent(path);
    } catch {
      throw new BadRequestException(['the path is not valid percent-encoded UTF-8']);
    }
    if (path.includes('\u0000')) throw new BadRequestException(['the path contains a NUL character (U+0000), which is not allowed']);
    const problem = jsonProblem(req.query, 'query') ?? (req.body === undefined ? null : jsonProblem(req.body, 'body'));
    if (problem) throw new BadRequestException([problem]);
    next();
  }
}
