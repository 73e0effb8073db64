import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

/**
 * A Prisma generator that writes the DMMF datamodel (models with native types and defaults, enums, every
 * index) it is handed to its `output` path. Prisma starts generators as child processes and speaks
 * line-delimited JSON-RPC with them: requests on stdin, responses on stderr (the protocol of
 * @prisma/generator-helper's generatorHandler, written out here so the test needs no extra package).
 * Used by ./dmmf.ts; not part of the app.
 */
const respond = (message: object) => process.stderr.write(`${JSON.stringify({ jsonrpc: '2.0', ...message })}\n`);

createInterface({ input: process.stdin }).on('line', (line) => {
  const request = JSON.parse(line) as { id: number; method: string; params: any };
  if (request.method === 'getManifest') {
    respond({ id: request.id, result: { manifest: { prettyName: 'DMMF datamodel dump', requiresGenerators: [] } } });
  } else if (request.method === 'generate') {
    try {
      writeFileSync(request.params.generator.output.value, JSON.stringify(request.params.dmmf.datamodel));
      respond({ id: request.id, result: null });
    } catch (error) {
      respond({ id: request.id, error: { code: -32000, message: String(error), data: {} } });
    }
  }
});
