import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** The parts of Prisma's DMMF datamodel (@prisma/dmmf) the database tests read. */
export interface DmmfDefault {
  name: string;
  args: unknown[];
}
export interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: 'scalar' | 'enum' | 'object' | 'unsupported';
  type: string;
  isList: boolean;
  isRequired: boolean;
  isId: boolean;
  isUnique: boolean;
  isUpdatedAt: boolean;
  hasDefaultValue: boolean;
  nativeType?: [string, string[]] | null;
  default?: DmmfDefault | string | number | boolean | DmmfDefault[] | unknown[];
  relationFromFields?: string[];
  relationToFields?: string[];
  relationOnDelete?: string;
  relationOnUpdate?: string;
}
export interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: DmmfField[];
}
export interface DmmfIndex {
  model: string;
  type: 'id' | 'normal' | 'unique' | 'fulltext';
  dbName?: string | null;
  fields: { name: string; sortOrder?: 'asc' | 'desc' }[];
  /** The index method when not btree, e.g. "Gin". */
  algorithm?: string;
}
export interface DmmfDatamodel {
  models: DmmfModel[];
  enums: { name: string; dbName?: string | null; values: { name: string; dbName?: string | null }[] }[];
  indexes: DmmfIndex[];
  /**
   * Fields of type Unsupported("...") (e.g. a tsvector), which the DMMF leaves out of its models: read from
   * the schema text, as `model.field type` with `?` when optional.
   */
  unsupported: { model: string; name: string; type: string; isRequired: boolean }[];
}

const root = fileURLToPath(new URL('../../..', import.meta.url));
const run = promisify(execFile);

/**
 * Prisma's own reading of prisma/schema.prisma: runs the real `prisma generate` (through our offline
 * script) on a scratch copy with one extra generator, ./dmmf-generator.ts, that writes out the DMMF the CLI
 * hands every generator. About a second; no second parser of our own to drift from Prisma's.
 */
export async function loadDatamodel(schemaPath = join(root, 'prisma/schema.prisma')): Promise<DmmfDatamodel> {
  const scratch = await mkdtemp(join(tmpdir(), 'reelgraph-dmmf-'));
  try {
    const output = join(scratch, 'datamodel.json');
    const generator = fileURLToPath(new URL('./dmmf-generator.ts', import.meta.url));
    const schema = await readFile(schemaPath, 'utf8');
    // `node` is Node 24 here: the generate script puts the running Node's folder first on PATH.
    const block = `\ngenerator dmmf {\n  provider = ${JSON.stringify(`node ${JSON.stringify(generator)}`)}\n  output   = ${JSON.stringify(output)}\n}\n`;
    await writeFile(join(scratch, 'schema.prisma'), schema + block);
    await run(
      process.execPath,
      [join(root, 'scripts/prisma-generate.ts'), '--schema', join(scratch, 'schema.prisma'), '--generator', 'dmmf'],
      {
        cwd: root,
      },
    );
    const datamodel = JSON.parse(await readFile(output, 'utf8')) as Omit<DmmfDatamodel, 'unsupported'>;
    return { ...datamodel, unsupported: unsupportedFields(schema) };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

export const tableOf = (model: DmmfModel): string => model.dbName ?? model.name;
export const columnOf = (field: DmmfField): string => field.dbName ?? field.name;
/** The fields stored as columns (relation fields are not). */
export const columnsOf = (model: DmmfModel): DmmfField[] => model.fields.filter((f) => f.kind === 'scalar' || f.kind === 'enum');

/** `name Unsupported("type")?` lines, by model (the DMMF has no trace of these fields but their indexes). */
function unsupportedFields(schema: string): DmmfDatamodel['unsupported'] {
  const found: DmmfDatamodel['unsupported'] = [];
  for (const [, model, body] of schema.matchAll(/^model\s+(\w+)\s*\{\n([\s\S]*?)^\}/gm)) {
    for (const [, name, type, optional] of body.matchAll(/^\s*(\w+)\s+Unsupported\("([^"]+)"\)(\?)?/gm))
      found.push({ model, name, type, isRequired: !optional });
  }
  return found;
}
