// Quick fixes: the diagnostics carry their obvious fixes (diagnostics.ts); this turns them into
// code actions for the diagnostics the client asks about.
import { CodeActionKind, type CodeAction, type Diagnostic } from 'vscode-languageserver';
import { SOURCE, type Fix } from './diagnostics';

export function quickFixes(uri: string, diagnostics: Diagnostic[]): CodeAction[] {
  return diagnostics.flatMap((diagnostic) => {
    if (diagnostic.source !== SOURCE) return [];
    const fixes = (diagnostic.data as { fixes?: Fix[] } | undefined)?.fixes ?? [];
    return fixes.map((fix, i): CodeAction => ({
      title: fix.title,
      kind: CodeActionKind.QuickFix,
      diagnostics: [diagnostic],
      isPreferred: i === 0,
      edit: { changes: { [uri]: fix.edits } },
    }));
  });
}
