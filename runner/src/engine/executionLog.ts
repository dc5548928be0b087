/**
 * Executions' logs: each line numbered per execution, stored and announced, with limits so that
 * one flow cannot fill the disk or every client's screen.
 */
import type { LogLine } from '@flows/protocol';
import type { Store } from '../store/store';
import type { EngineEventSink } from './events';
import type { Active } from './executionTable';

/** A log line longer than this is cut; an execution logging more lines than this is cut off. */
const MAX_LOG_LINE = 64 * 1024;
const MAX_LOG_LINES = 200_000;

export class ExecutionLog {
  constructor(
    private readonly store: Pick<Store, 'appendLog' | 'lastLogSeq'>,
    private readonly events: EngineEventSink,
  ) {}

  /** An execution held again (restored, reopened) goes on after the lines it has. */
  continueAfterStored(a: Active): void {
    void this.store.lastLogSeq(a.rec.id).then((n) => (a.logSeq = Math.max(a.logSeq, n)));
  }

  append(a: Active, stream: LogLine['stream'], text: string): void {
    if (a.logSeq >= MAX_LOG_LINES) return;
    if (a.logSeq === MAX_LOG_LINES - 1) text = `… log cut off after ${MAX_LOG_LINES} lines`;
    else if (text.length > MAX_LOG_LINE)
      text = `${text.slice(0, MAX_LOG_LINE)}… (line cut at ${MAX_LOG_LINE} characters)`;
    const line: LogLine = {
      execution_id: a.rec.id,
      seq: ++a.logSeq,
      ts: new Date().toISOString(),
      stream,
      text,
    };
    this.store.appendLog(line);
    this.events.emit('log', line);
  }
}
