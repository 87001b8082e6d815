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
