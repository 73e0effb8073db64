import { afterAll } from 'vitest';
import { disposeLeftovers } from '../helpers/leftovers.ts';

// A root-level afterAll runs after every suite's own afterAll: a test file disposes of its servers first, and
// this releases only what is left (started by a test that failed before its own cleanup).
afterAll(async () => {
  await disposeLeftovers();
});
