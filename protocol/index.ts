/** The one protocol module: client, debug adapter and runner import these schemas and types. */
export * from './records';
export * from './rest';
export * from './ws';
export * from './worker';
export * from './debug';
export * from './schedules';
export * from './webhooks';
export * from './runs';
export * from './limits';
export * from './languageServer';
export * from './testing';
export * from './flows';
export * from './tokens';
