/**
 * Checks a real JSON answer against the schema the service's own OpenAPI document (GET
 * /api/docs-json) gives for it: every field the answer carries must be described (an
 * undocumented field is one a generated client cannot see), every required one present, and each
 * value of the described type and enum. Only what Nest's swagger module generates is understood:
 * $ref, allOf, oneOf, nullable, object (properties, required, additionalProperties), array, the
 * primitive types and enum.
 */

export interface OpenApiSchema {
  $ref?: string;
  type?: string;
  nullable?: boolean;
  enum?: unknown[];
  allOf?: OpenApiSchema[];
  oneOf?: OpenApiSchema[];
  properties?: Record<string, OpenApiSchema>;
  required?: string[];
  additionalProperties?: boolean | OpenApiSchema;
  items?: OpenApiSchema;
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema?: OpenApiSchema }> }> }>>;
  components: { schemas: Record<string, OpenApiSchema> };
}

/** Every `$ref` of the document that names no schema in it, with where it is used. */
export function danglingRefs(doc: OpenApiDocument): string[] {
  const found: string[] = [];
  const walk = (node: unknown, at: string): void => {
    if (Array.isArray(node)) node.forEach((n, i) => walk(n, `${at}[${i}]`));
    else if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        if (k === '$ref' && typeof v === 'string' && !doc.components.schemas[v.replace('#/components/schemas/', '')]) found.push(`${v} at ${at}`);
        else walk(v, `${at}.${k}`);
      }
    }
  };
  walk(doc, '$');
  return found;
}

/** The JSON schema of one answer: `route` as the document spells it (`/api/v1/domains/{name}`). */
export function responseSchema(doc: OpenApiDocument, method: string, route: string, status: number): OpenApiSchema {
  const op = doc.paths[route]?.[method.toLowerCase()];
  if (!op) throw new Error(`OpenAPI has no ${method.toUpperCase()} ${route}`);
  const schema = op.responses[String(status)]?.content?.['application/json']?.schema;
  if (!schema) throw new Error(`OpenAPI has no JSON schema for ${status} of ${method.toUpperCase()} ${route}`);
  return schema;
}

function resolve(doc: OpenApiDocument, schema: OpenApiSchema): OpenApiSchema {
  if (!schema.$ref) return schema;
  const name = schema.$ref.replace('#/components/schemas/', '');
  const target = doc.components.schemas[name];
  if (!target) throw new Error(`${schema.$ref} is not in the document (a class referenced by hand, never registered)`);
  return resolve(doc, target);
}

/** allOf folded into one schema (Nest writes a nullable object reference as `{ nullable, allOf: [$ref] }`). */
function flatten(doc: OpenApiDocument, schema: OpenApiSchema): OpenApiSchema {
  const s = resolve(doc, schema);
  if (!s.allOf?.length) return s;
  const parts = s.allOf.map((p) => flatten(doc, p));
  const { allOf: _parts, ...own } = s;
  return parts.reduce<OpenApiSchema>(
    (acc, p) => ({
      ...p,
      ...acc,
      properties: { ...p.properties, ...acc.properties },
      required: [...(p.required ?? []), ...(acc.required ?? [])],
      type: acc.type ?? p.type,
    }),
    own,
  );
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** Where the answer departs from the schema, one line per place (`$.items[0].kind: ...`); empty when it conforms. */
export function schemaGaps(doc: OpenApiDocument, schema: OpenApiSchema, value: unknown, at = '$'): string[] {
  let s: OpenApiSchema;
  try {
    s = flatten(doc, schema);
  } catch (e) {
    return [`${at}: ${(e as Error).message}`];
  }
  if (value === null) return s.nullable ? [] : [`${at}: null, but not nullable`];
  if (s.oneOf?.length) {
    const tries = s.oneOf.map((o) => schemaGaps(doc, o, value, at));
    return tries.some((t) => t.length === 0) ? [] : [`${at}: matches none of oneOf (${tries.map((t) => t[0]).join('; ')})`];
  }
  if (s.enum && !s.enum.includes(value)) return [`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(s.enum)}`];
  const actual = typeOf(value);
  switch (s.type) {
    case undefined:
      return [];
    case 'string':
    case 'boolean':
      return actual === s.type ? [] : [`${at}: ${actual}, described as ${s.type}`];
    case 'number':
    case 'integer':
      return actual === 'number' && (s.type === 'number' || Number.isInteger(value)) ? [] : [`${at}: ${actual}, described as ${s.type}`];
    case 'array':
      if (actual !== 'array') return [`${at}: ${actual}, described as array`];
      return s.items ? (value as unknown[]).flatMap((v, i) => schemaGaps(doc, s.items!, v, `${at}[${i}]`)) : [];
    case 'object': {
      if (actual !== 'object') return [`${at}: ${actual}, described as object`];
      const record = value as Record<string, unknown>;
      const gaps = (s.required ?? []).filter((k) => !(k in record)).map((k) => `${at}.${k}: required, missing`);
      for (const [k, v] of Object.entries(record)) {
        const described = s.properties?.[k];
        if (described) gaps.push(...schemaGaps(doc, described, v, `${at}.${k}`));
        else if (typeof s.additionalProperties === 'object') gaps.push(...schemaGaps(doc, s.additionalProperties, v, `${at}.${k}`));
        else if (s.additionalProperties !== true) gaps.push(`${at}.${k}: not described`);
      }
      return gaps;
    }
    default:
      return [`${at}: unknown schema type ${s.type}`];
  }
}
