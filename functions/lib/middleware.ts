import type { MiddlewareObj } from '@middy/core';
import type { z } from 'zod';
import { InvalidInput, MethodNotAllowed, PipelineError } from '../../src/errors.ts';
import { parseInput } from '../../src/schemas.ts';
import { logger } from './log.ts';

/**
 * Validates and replaces the event of a Step Functions task with the schema's parsed output, so
 * the handler gets typed input with defaults applied; a bad event fails with InvalidInput.
 */
export function parseEvent<S extends z.ZodType>(schema: S): MiddlewareObj<z.infer<S>> {
  return {
    before: (request) => {
      request.event = parseInput(schema, request.event, 'event');
    },
  };
}

export interface HttpEvent {
  routeKey?: string;
  rawPath?: string;
  body?: string | null;
  isBase64Encoded?: boolean;
  headers?: Record<string, string | undefined>;
  queryStringParameters?: Record<string, string | undefined> | null;
  pathParameters?: Record<string, string | undefined> | null;
  requestContext?: { http?: { method?: string } };
}

export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export function json(statusCode: number, body: unknown): HttpResponse {
  return jsonText(statusCode, JSON.stringify(body));
}

/** A JSON response whose body is already JSON text. */
export function jsonText(statusCode: number, text: string): HttpResponse {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: text };
}

/** One path parameter, parsed with a schema; a bad one is a 400 naming it. */
export function pathParam<S extends z.ZodType>(schema: S, event: HttpEvent, name: string): z.infer<S> {
  return parseInput(schema, event.pathParameters?.[name], 'path', { prefix: [name] });
}

/** Parses query parameters with a schema; failures are a 400 naming the parameter. */
export function parseQuery<S extends z.ZodType>(schema: S, event: HttpEvent): z.infer<S> {
  return parseInput(schema, event.queryStringParameters ?? {}, 'query');
}

/**
 * Parses a JSON request body with a schema: an empty (or blank) body, a body over `maxBytes`, invalid
 * JSON and schema failures are each a 400 that names the problem (and the field; `(body)` for the body
 * as a whole). `allowEmpty` parses a blank body as `{}`; `emptyHint` says what to send instead.
 */
export function parseJsonBody<S extends z.ZodType>(
  schema: S,
  event: HttpEvent,
  options: { maxBytes?: number; allowEmpty?: boolean; emptyHint?: string; what?: string } = {},
): z.infer<S> {
  const raw = event.isBase64Encoded ? Buffer.from(event.body ?? '', 'base64').toString('utf8') : (event.body ?? '');
  const blank = raw.trim().length === 0;
  if (blank && !options.allowEmpty) throw new InvalidInput(`Empty body: ${options.emptyHint ?? 'send a JSON object'}`);
  if (options.maxBytes !== undefined && Buffer.byteLength(raw) > options.maxBytes) throw new InvalidInput(`Body over ${options.maxBytes} bytes`);
  let body: unknown = {};
  if (!blank) {
    try {
      body = JSON.parse(raw);
    } catch (error) {
      throw new InvalidInput(`Body is not valid JSON: ${(error as Error).message}`);
    }
  }
  return parseInput(schema, body, options.what ?? 'request', { whole: '(body)' });
}

/**
 * Turns every error into a JSON response: our named errors keep their status and message; anything
 * else is a 500 whose details go to the log, not to the client. `detail` adds a `detail` field to
 * 4xx bodies (what the course's FastAPI data API answers, and clients written for it branch on).
 */
export function httpErrors(options: { detail?: (error: PipelineError) => string } = {}): MiddlewareObj<HttpEvent, HttpResponse> {
  return {
    onError: (request) => {
      const error = request.error;
      if (error instanceof PipelineError && error.status < 500) {
        request.response = json(error.status, {
          ...(options.detail ? { detail: options.detail(error) } : {}),
          error: error.name,
          message: error.message,
          ...(error instanceof InvalidInput && error.issues.length > 0 ? { issues: error.issues } : {}),
        });
        if (error instanceof MethodNotAllowed) request.response.headers.allow = error.allow.join(', ');
        return;
      }
      logger.error('request failed', error instanceof Error ? error : String(error));
      const status = error instanceof PipelineError ? error.status : 500;
      request.response = json(status, {
        error: error instanceof PipelineError ? error.name : 'InternalError',
        message: error instanceof PipelineError ? error.message : 'Internal error; see the function log.',
      });
    },
  };
}
