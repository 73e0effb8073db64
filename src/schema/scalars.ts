import { GraphQLError } from 'graphql';
import { DateTimeResolver } from 'graphql-scalars';
import { builder } from './builder.ts';

builder.addScalarType('DateTime', DateTimeResolver);

/**
 * An uploaded file (GraphQL multipart request spec): Yoga parses multipart requests and hands the resolver a
 * web File. Input only. Fields use it by name (`type: 'File'`).
 */
builder.scalarType('File', {
  description:
    'A file uploaded with the request as a GraphQL multipart request (https://github.com/jaydenseric/graphql-multipart-request-spec). Input only.',
  serialize: () => {
    throw new GraphQLError('File is an input-only scalar');
  },
  parseValue: (value: unknown) => {
    // Yoga's multipart parser hands over @whatwg-node's File, which is not an instance of Node's global Blob.
    if (isBlobLike(value)) return value;
    throw new GraphQLError('File must be a file sent in a multipart request');
  },
  parseLiteral: () => {
    throw new GraphQLError('File must be a file sent in a multipart request, not a literal');
  },
});

function isBlobLike(value: unknown): value is Blob {
  const v = value as Partial<Blob> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.size === 'number' &&
    typeof v.arrayBuffer === 'function' &&
    typeof v.slice === 'function'
  );
}
