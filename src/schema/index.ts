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
import './webhook-event-type.ts';
import './webhook-endpoint.ts';
import './webhook-delivery.ts';
import './create-webhook-endpoint.ts';
import './delete-webhook-endpoint.ts';
import './redeliver-webhook.ts';

builder.queryType({ description: 'Reads: generations, usage and what this server talks to.' });
builder.mutationType({ description: 'Changes: start and cancel generations. Expected failures are members of each result union.' });
builder.subscriptionType({ description: 'Live events over graphql-ws or Server-Sent Events.' });

let schema: GraphQLSchema | null = null;

/** The executable schema (built once per process: the types above are static). */
export function buildSchema(): GraphQLSchema {
  schema ??= builder.toSchema();
  return schema;
}

/**
 * The SDL committed as schema.graphql. Types, fields and arguments come out in alphabetical order (Pothos sorts
 * the schema it builds), so moving a type to another file, or reordering the imports above, leaves it unchanged.
 */
export function printSchemaSDL(): string {
  return `${printSchema(buildSchema())}\n`;
}
