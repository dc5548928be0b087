/**
 * The fields of a `system.message(subject, body)` form, read from its body (no VS Code here, so
 * it is unit-tested in plain Node). Two shapes are understood:
 *   {"approve": {"type": "boolean", "label": "Deploy now?"}, "note": {"type": "string"}}
 *   {"type": "object", "properties": {…same…}, "required": ["approve"]}   (JSON Schema style)
 * Entries with `element: "markdown"` (or a `text`/`description` and no type) are shown, not asked;
 * `element: "submit"` buttons are implied. A string body is shown as text.
 */
import { z } from 'zod';

export type FieldKind = 'boolean' | 'string' | 'number' | 'integer' | 'choice' | 'json';

export interface FormField {
  name: string;
  kind: FieldKind;
  label: string;
  description?: string;
  choices?: string[];
  default?: unknown;
  required: boolean;
}

export interface Form {
  /** Text to show above the fields (a string body, or markdown elements). */
  text: string[];
  fields: FormField[];
}

const FieldSpec = z.looseObject({
  type: z.string().optional(),
  element: z.string().optional(),
  label: z.string().optional(),
  title: z.string().optional(),
  description: z.string().optional(),
  text: z.string().optional(),
  default: z.unknown().optional(),
  enum: z.array(z.unknown()).optional(),
  options: z.array(z.unknown()).optional(),
  required: z.boolean().optional(),
  order: z.number().optional(),
});

const SchemaBody = z.looseObject({
  type: z.literal('object'),
  properties: z.record(z.string(), z.unknown()),
  required: z.array(z.string()).optional(),
});

const KINDS: Record<string, FieldKind> = {
  boolean: 'boolean',
  bool: 'boolean',
  checkbox: 'boolean',
  string: 'string',
  text: 'string',
  str: 'string',
  number: 'number',
  float: 'number',
  integer: 'integer',
  int: 'integer',
};

export function parseForm(body: unknown): Form {
  if (body === undefined || body === null) return { text: [], fields: [] };
  if (typeof body === 'string') return { text: [body], fields: [] };
  if (typeof body !== 'object' || Array.isArray(body)) return { text: [JSON.stringify(body)], fields: [] };

  const schema = SchemaBody.safeParse(body);
  const entries = schema.success ? schema.data.properties : (body as Record<string, unknown>);
  const requiredList = schema.success ? (schema.data.required ?? []) : [];

  const form: Form = { text: [], fields: [] };
  const ordered = Object.entries(entries)
    .map(([name, raw], index) => ({ name, spec: FieldSpec.safeParse(raw), index }))
    .sort(
      (a, b) =>
        (a.spec.data?.order ?? Number.MAX_SAFE_INTEGER) - (b.spec.data?.order ?? Number.MAX_SAFE_INTEGER) ||
        a.index - b.index,
    );
  for (const { name, spec } of ordered) {
    if (!spec.success) {
      // A bare value (`{"note": "hello"}`) is text to show.
      const raw = entries[name];
      form.text.push(typeof raw === 'string' ? raw : `${name}: ${JSON.stringify(raw)}`);
      continue;
    }
    const s = spec.data;
    const element = (s.element ?? '').toLowerCase();
    if (element === 'submit' || element === 'button') continue;
    if (element === 'markdown' || (!s.type && !element && (s.text || s.description))) {
      form.text.push(s.text ?? s.description ?? s.label ?? '');
      continue;
    }
    const choices = (s.enum ?? s.options)?.map((c) => String(c));
    const kind: FieldKind = choices?.length
      ? 'choice'
      : (KINDS[(s.type ?? element).toLowerCase()] ?? (s.type || element ? 'json' : 'string'));
    form.fields.push({
      name,
      kind,
      label: s.label ?? s.title ?? name,
      description: s.description,
      choices,
      default: s.default,
      required: s.required ?? requiredList.includes(name),
    });
  }
  return form;
}

/** Parses what was typed for a field; returns an error text for the input box when invalid. */
export function parseAnswer(field: FormField, text: string): { value: unknown } | { error: string } {
  const t = text.trim();
  if (t === '' && !field.required) return { value: field.kind === 'string' ? '' : null };
  if (t === '' && field.required) return { error: `${field.label} is required` };
  switch (field.kind) {
    case 'number':
    case 'integer': {
      const n = Number(t);
      if (!Number.isFinite(n)) return { error: 'enter a number' };
      if (field.kind === 'integer' && !Number.isInteger(n)) return { error: 'enter a whole number' };
      return { value: n };
    }
    case 'json':
      try {
        return { value: JSON.parse(t) as unknown };
      } catch {
        return { error: 'enter JSON' };
      }
    default:
      return { value: text };
  }
}
