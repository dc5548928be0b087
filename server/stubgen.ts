// Renders the flow_api type stubs from the catalogue, so Pylance / pyright users get the same
// types the language server knows. `npx tsx server/stubgen.ts` rewrites the file; a test fails
// when the committed file and the catalogue drift apart.
import fs from 'node:fs';
import path from 'node:path';
import { CLASS_NAMES, CLASSES, MODULE_MEMBERS, paramLabel, signatureParts, type Method } from './catalogue';

export const STUB_PATH = path.join(__dirname, 'stubs', 'flow_api', '__init__.pyi');

function docstring(doc: string, indent: string): string {
  return `${indent}"""${doc.replace(/\\/g, '\\\\').replace(/"""/g, '\\"\\"\\"')}"""`;
}

function renderMethod(method: Method): string[] {
  const params = ['self', ...signatureParts(method).map((p) => (typeof p === 'string' ? p : paramLabel(p)))];
  return [
    `    def ${method.name}(${params.join(', ')}) -> ${method.returns}:`,
    docstring(method.doc, '        '),
    '        ...',
  ];
}

export function renderStubs(): string {
  const out = [
    '# Generated from server/catalogue.ts by server/stubgen.ts. Do not edit: run `npx tsx server/stubgen.ts`.',
    '"""flow_api: the Execution API of Flows for VS Code."""',
    '',
    'import datetime',
    'from typing import Any, Final, NoReturn',
    '',
  ];
  for (const member of MODULE_MEMBERS) {
    if (member.kind === 'constant') {
      out.push(`${member.name}: Final[${member.type}]`, docstring(member.doc, ''), '');
    } else if (member.kind === 'exception') {
      out.push('', `class ${member.name}(${member.type}):`, docstring(member.doc, '    '), '');
    }
  }
  for (const name of CLASS_NAMES) {
    const cls = CLASSES[name];
    out.push('', `class ${name}:`, docstring(cls.doc, '    '));
    for (const method of cls.methods) out.push('', ...renderMethod(method));
    out.push('');
  }
  return out.join('\n');
}

if (require.main === module) {
  fs.mkdirSync(path.dirname(STUB_PATH), { recursive: true });
  fs.writeFileSync(STUB_PATH, renderStubs());
  console.log(`wrote ${path.relative(process.cwd(), STUB_PATH)}`);
}
