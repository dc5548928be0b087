/**
 * Tells the language server the names of the settings, connections and files the runner's flows
 * keep (`flows/recordNames`), so that `system.setting('…` completes names that exist only in the
 * runner's store. Sent on each connection to a runner, and again (at most every REFRESH_MS)
 * after executions end, since flows save records as they run. Names only: values may be secrets.
 */
import type * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { isEnded, RECORD_NAMES_NOTIFICATION, type RecordNamesParams } from '@flows/protocol';
import type { RunnerConnection, RunnerService } from '../runner/runnerService';

const KINDS: RecordNamesParams['kind'][] = ['setting', 'connection', 'file'];
const REFRESH_MS = 10_000;

export function feedRecordNames(runner: RunnerService, client: LanguageClient): vscode.Disposable {
  let conn: RunnerConnection | undefined;
  let timer: NodeJS.Timeout | undefined;
  let last = 0;
  const send = async () => {
    timer = undefined;
    last = Date.now();
    const c = conn;
    if (!c || !client.isRunning()) return;
    for (const kind of KINDS) {
      // An older runner without the endpoint, or one going away: completion keeps what it has.
      const names = await c.api.recordNames(kind).catch(() => undefined);
      if (names && c === conn) await client.sendNotification(RECORD_NAMES_NOTIFICATION, { kind, names });
    }
  };
  const soon = () => {
    if (timer) return;
    timer = setTimeout(() => void send(), Math.max(0, last + REFRESH_MS - Date.now()));
  };
  const subs = [
    runner.session.onDidConnect((c) => {
      conn = c;
      void send();
    }),
    runner.executions.onDidChange(({ record }) => {
      if (isEnded(record.status)) soon();
    }),
  ];
  if (runner.connection) {
    conn = runner.connection;
    void send();
  }
  return {
    dispose: () => {
      clearTimeout(timer);
      subs.forEach((s) => s.dispose());
    },
  };
}
