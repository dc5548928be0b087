/**
 * Entry point of dist/debugAdapter.js: the `flow` debug adapter over stdio, for standalone use
 * and the DAP tests. (In VS Code the client runs FlowDebugSession inline instead.)
 */
import { FlowDebugSession } from './flowDebugSession';

// stdout carries DAP: anything else printed there would corrupt it.
console.log = console.info = console.debug = console.error;

const session = new FlowDebugSession();
process.on('SIGTERM', () => session.shutdown());
session.start(process.stdin, process.stdout);
