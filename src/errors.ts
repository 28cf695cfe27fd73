/**
 * Named errors. The class name is what Lambda reports as `errorType`, which is what the state
 * machine's Retry/Catch `ErrorEquals` and the HTTP layer match on, so each failure mode gets its own.
 */
export class PipelineError extends Error {
  /** HTTP status this error maps to when it reaches an API route. */
  readonly status: number = 500;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The caller sent something we cannot use (bad event, bad request body). */
export class InvalidInput extends PipelineError {
  override readonly status = 400;
  readonly issues: { field: string; message: string }[];
  constructor(message: string, issues: { field: string; message: string }[] = []) {
    super(message);
    this.issues = issues;
  }
}

/** A route that changes the registry or starts runs was called without the admin token. */
export class Unauthorized extends PipelineError {
  override readonly status = 401;
}

/** A route that changes the registry or starts runs was called with a token that is not the admin token. */
export class Forbidden extends PipelineError {
  override readonly status = 403;
}

/** A guarded route was called on a deployment that has no admin token configured: it stays closed. */
export class AdminTokenNotConfigured extends PipelineError {
  override readonly status = 503;
}

/**
 * The request is well formed but the stored state refuses it, e.g. making champion a version whose
 * artifact is missing or altered.
 */
export class Conflict extends PipelineError {
  override readonly status = 409;
}

export class NotFound extends PipelineError {
  override readonly status = 404;
}

/** The path is a route, but not for this method: 405, with the methods it has (the `allow` header). */
export class MethodNotAllowed extends PipelineError {
  override readonly status = 405;
  readonly allow: readonly string[];
  constructor(message: string, allow: readonly string[]) {
    super(message);
    this.allow = allow;
  }
}

/** The data API did not answer usefully (down, timeout, 5xx, malformed body). Retryable. */
export class DataApiUnavailable extends PipelineError {
  override readonly status = 503;
}

/**
 * The data API cannot read a dataset it is set up to serve (its file is missing, unreadable or not the
 * spec's CSV): the deployment's settings need fixing, not the request.
 */
export class DatasetSourceUnavailable extends PipelineError {
  override readonly status = 503;
}

/** The data API has served its last batch for this group. */
export class NoMoreBatches extends PipelineError {
  override readonly status = 400;
}

/** Every row of a batch or dataset was rejected, or too few rows remain to train on. */
export class InvalidRows extends PipelineError {
  override readonly status = 422;
}

/** S3 or MySQL failed in a way worth retrying. */
export class StorageUnavailable extends PipelineError {
  override readonly status = 503;
}

/** A stored artifact's bytes do not match the hash recorded for it. */
export class ArtifactHashMismatch extends PipelineError {
  override readonly status = 500;
}

/** There is no model to serve (no champion yet, or the asked-for version does not exist). */
export class ModelNotFound extends PipelineError {
  override readonly status = 404;
}

/**
 * A registered model version exists but cannot be served: its artifact is missing, altered or
 * unreadable. Not a 404 (the version is there) and not retryable by waiting: the artifact must be fixed.
 */
export class ModelUnavailable extends PipelineError {
  override readonly status = 503;
}
