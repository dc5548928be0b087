/**
 * "Show Tree Diff" on a failed flow test's message: the recorded and the replayed execution
 * trees (as `flows test` wrote them: runner/src/testing/treeText.ts) side by side in a diff
 * editor. The two sides are read-only virtual documents of the `flows-test-tree` scheme, so
 * nothing is written to the workspace, and the diff editor lines the children up and marks the
 * ones that differ. A button on the failure message (the `testing/message/content` menu, for
 * messages whose contextValue says the case has trees) rather than a link in the text: the
 * message text stays the failure itself, and the button shows wherever the message does.
 */
import * as vscode from 'vscode';

export const TREE_DIFF_CONTEXT = 'flowsTreeDiff';
const SCHEME = 'flows-test-tree';

export interface TestTrees {
  name: string;
  expected: string;
  actual: string;
}

export class TestTreeDiff implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly texts = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly registration = vscode.workspace.registerTextDocumentContentProvider(SCHEME, this);

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? '';
  }

  /** Opens the diff of `trees` (the item's id keeps each case's pair of documents apart). */
  async show(itemId: string, trees: TestTrees): Promise<void> {
    const side = (which: 'recorded' | 'replayed', text: string) => {
      const uri = vscode.Uri.from({
        scheme: SCHEME,
        path: `/${which}/${trees.name.replace(/[\\/]/g, '_')}.txt`,
        query: itemId,
      });
      this.texts.set(uri.toString(), text);
      this.changed.fire(uri);
      return uri;
    };
    await vscode.commands.executeCommand(
      'vscode.diff',
      side('recorded', trees.expected),
      side('replayed', trees.actual),
      `${trees.name}: recorded ↔ replayed`,
      { preview: true },
    );
  }

  dispose(): void {
    this.registration.dispose();
    this.changed.dispose();
  }
}
