// Preloaded (`node --import`) into a server process by test/e2e/logs.test.ts. On SIGUSR2 the process emits what
// a dependency might print by itself at any time: a Node process warning (a deprecation) and a console line,
// so the test can check that both come out as JSON log lines and nothing reaches stderr.
process.on('SIGUSR2', () => {
  process.emitWarning('probe warning from the logs test', 'DeprecationWarning', 'DEP_REELGRAPH_PROBE');
  console.error('probe console output from the logs test');
});
