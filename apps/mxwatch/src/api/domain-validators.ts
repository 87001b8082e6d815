import { registerDecorator, type ValidationArguments, type ValidationOptions } from 'class-validator';
import { normaliseDomainName } from '../transport/dns/dns-names.js';
import { isIpLiteral } from '../transport/net/address-policy.js';

/** A domain or host name, normalisable (lower case, no trailing dot, IDN to punycode). */
export function IsDomainName(options?: ValidationOptions & { each?: boolean }) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'isDomainName',
      target: object.constructor,
      propertyName,
      options,
      validator: {
        validate: (value: unknown) => typeof value === 'string' && normaliseDomainName(value).ok,
        defaultMessage: (args?: ValidationArguments) => {
          const value = args?.value;
          if (typeof value !== 'string') return `${args?.property} must be a domain name (a string)`;
          const r = normaliseDomainName(value);
          return r.ok ? '' : `${args?.property}: "${value}" is not a valid domain name: ${r.error}`;
        },
      },
    });
}

export function IsIpAddress(options?: ValidationOptions) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'isIpAddress',
      target: object.constructor,
      propertyName,
      options,
      validator: {
        validate: (value: unknown) => typeof value === 'string' && isIpLiteral(value) && !value.startsWith('['),
        defaultMessage: (args?: ValidationArguments) => `${args?.property}: ${JSON.stringify(args?.value)} is not an IPv4 or IPv6 address`,
      },
    });
}

const LABEL_KEY = /^[a-zA-Z_][a-zA-Z0-9_]{0,62}$/;

/** Labels become Prometheus-style selectors for notifications: keep keys to the same alphabet. */
export function IsLabelMap(options?: ValidationOptions) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'isLabelMap',
      target: object.constructor,
      propertyName,
      options,
      validator: {
        validate: (value: unknown) => labelMapProblem(value) === null,
        defaultMessage: (args?: ValidationArguments) => `${args?.property}: ${labelMapProblem(args?.value)}`,
      },
    });
}

function labelMapProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'must be an object of string values';
  const entries = Object.entries(value);
  if (entries.length > 32) return 'at most 32 labels';
  for (const [k, v] of entries) {
    if (!LABEL_KEY.test(k)) return `label name "${k}" must match ${LABEL_KEY.source}`;
    if (typeof v !== 'string') return `label "${k}" must be a string`;
    if (v.length > 256) return `label "${k}" is longer than 256 characters`;
  }
  return null;
}

/**
 * A whole number within bounds, judged in one message: with separate IsInt/Min/Max a string such
 * as "60" got three messages, none of which said that it was a string.
 */
export function IsWholeNumberInRange(min: number, max: number, texts: { what: string; maxNote?: string }, options?: ValidationOptions) {
  const problem = (value: unknown, property: string): string | null => {
    if (typeof value === 'string') return `${property} must be a JSON number, not the string ${JSON.stringify(value.slice(0, 40))}`;
    if (typeof value !== 'number' || !Number.isInteger(value)) return `${property} must be ${texts.what}`;
    if (value < min) return `${property} must be at least ${min}`;
    if (value > max) return `${property} must be at most ${max}${texts.maxNote ?? ''}`;
    return null;
  };
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'isWholeNumberInRange',
      target: object.constructor,
      propertyName,
      options,
      validator: {
        validate: (value: unknown, args?: ValidationArguments) => problem(value, args?.property ?? propertyName) === null,
        defaultMessage: (args?: ValidationArguments) => problem(args?.value, args?.property ?? propertyName) ?? '',
      },
    });
}

/** A query parameter (a string turned into a number by @Type) that must be a whole number in bounds: one message. */
export function IsQueryWholeNumber(min: number, max: number, options?: ValidationOptions) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'isQueryWholeNumber',
      target: object.constructor,
      propertyName,
      options,
      validator: {
        validate: (value: unknown) => typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max,
        defaultMessage: (args?: ValidationArguments) => `${args?.property} must be a whole number from ${min} to ${max}`,
      },
    });
}

const LABEL_SELECTOR = /^([a-zA-Z_][a-zA-Z0-9_]{0,62})=(.{0,256})$/s;

/** `label=team=mail` (repeatable): every pair must hold. Returns the pairs, or the first problem. */
export function parseLabelSelectors(value: string | string[] | undefined): { ok: true; labels: Record<string, string> } | { ok: false; error: string } {
  const labels: Record<string, string> = {};
  for (const item of value === undefined ? [] : Array.isArray(value) ? value : [value]) {
    const m = LABEL_SELECTOR.exec(item);
    if (!m) return { ok: false, error: `label must be name=value with a name matching ${LABEL_KEY.source}, got ${JSON.stringify(item.slice(0, 80))}` };
    if (m[1]! in labels && labels[m[1]!] !== m[2]) return { ok: false, error: `label ${m[1]} is given twice with different values` };
    labels[m[1]!] = m[2]!;
  }
  return { ok: true, labels };
}

/** `label` query parameter(s) in the form name=value. */
export function IsLabelSelectors(options?: ValidationOptions) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'isLabelSelectors',
      target: object.constructor,
      propertyName,
      options,
      validator: {
        validate: (value: unknown) => (typeof value === 'string' || (Array.isArray(value) && value.every((v) => typeof v === 'string'))) && parseLabelSelectors(value as string[]).ok,
        defaultMessage: (args?: ValidationArguments) => {
          const r = typeof args?.value === 'string' || Array.isArray(args?.value) ? parseLabelSelectors(args.value as string[]) : null;
          return r && !r.ok ? r.error : `${args?.property} must be name=value`;
        },
      },
    });
}
