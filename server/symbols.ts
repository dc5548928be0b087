// Document symbols (the handler, helpers, classes and their methods) and workspace symbols
// (the flows of the workspace).
import { SymbolKind, type DocumentSymbol, type SymbolInformation } from 'vscode-languageserver';
import type { ScopeInfo } from './analysis';
import type { FlowDocument } from './document';
import type { FlowIndex } from './workspaceFlows';

export function documentSymbols(doc: FlowDocument): DocumentSymbol[] {
  const toSymbol = (scope: ScopeInfo, inClass: boolean): DocumentSymbol => ({
    name: scope.name,
    detail:
      scope.kind === 'class'
        ? undefined
        : `(${scope.params.map((p) => p.name).join(', ')})${scope.name === 'handler' && !scope.parent ? ' — flow entry point' : ''}`,
    kind: scope.kind === 'class' ? SymbolKind.Class : inClass ? SymbolKind.Method : SymbolKind.Function,
    range: doc.rangeOf(scope.range),
    selectionRange: doc.rangeOf(scope.nameSpan),
    children: scope.children.map((c) => toSymbol(c, scope.kind === 'class')),
  });
  return doc.analysis.units.flatMap((u) => u.scopes.map((s) => toSymbol(s, false)));
}

/** Flows whose name contains the query's characters in order (as VS Code filters). */
export function workspaceSymbols(query: string, flows: FlowIndex): SymbolInformation[] {
  const q = query.toLowerCase();
  const matches = (name: string) => {
    let i = 0;
    for (const ch of name.toLowerCase()) if (ch === q[i]) i++;
    return i === q.length;
  };
  return flows
    .all()
    .filter((f) => matches(f.name))
    .map((f) => ({
      name: f.name,
      kind: SymbolKind.Module,
      containerName: 'flow',
      location: { uri: f.uri, range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } } },
    }));
}
