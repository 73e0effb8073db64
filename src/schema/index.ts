import { printSchema, type GraphQLSchema } from 'graphql';
import { builder } from './builder.ts';
import './scalars.ts';
import './errors.ts';
import './video-generation.ts';
import './generation-progress.ts';
import './generate-video.ts';
import './cancel-generation.ts';
import './generation-events.ts';
import './server-info.ts';
import './usage.ts';

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});

let schema: GraphQLSchema | null = null;

/** The executable schema (built once per process: the types above are static). */
export function buildSchema(): GraphQLSchema {
  schema ??= builder.toSchema();
  return schema;
}

/** The SDL committed as schema.graphql (types in the order index.ts imports their files). */
export function printSchemaSDL(): string {
  return `${printSchema(buildSchema())}\n`;
}
