import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { IErrorBody } from './types';

/** The REST API's root, relative to the server's base URL. */
export const API_NAMESPACE = 'mlops/api';

/**
 * An error answered by the jupyter-mlops REST API, or a failure to reach it.
 *
 * `status` is the HTTP status (0 when the server could not be reached), `type` the error kind
 * (`InvalidInput`, `NotFound`, ...), `hint` what the user can do about it.
 */
export class MlopsApiError extends Error {
  constructor(options: MlopsApiError.IOptions) {
    super(options.message);
    this.name = 'MlopsApiError';
    this.status = options.status;
    this.type = options.type ?? 'Error';
    this.hint = options.hint ?? null;
    this.field = options.field ?? null;
  }

  readonly status: number;
  readonly type: string;
  readonly hint: string | null;
  readonly field: string | null;

  /** Whether the server rejected the input (a 400/422), e.g. a filter it cannot parse. */
  get isInvalidInput(): boolean {
    return this.status === 400 || this.status === 422;
  }

  /** Build an error from any thrown value, so callers deal with one error type. */
  static from(reason: unknown): MlopsApiError {
    if (reason instanceof MlopsApiError) {
      return reason;
    }
    const message = reason instanceof Error ? reason.message : String(reason);
    return new MlopsApiError({ status: 0, type: 'NetworkError', message });
  }
}

export namespace MlopsApiError {
  export interface IOptions {
    status: number;
    message: string;
    type?: string;
    hint?: string | null;
    field?: string | null;
  }
}

/** Query parameters; an array value repeats the key (`run_id=a&run_id=b`). */
export type QueryParams = Record<
  string,
  string | number | boolean | null | undefined | (string | number)[]
>;

/** Encode `query`, skipping null, undefined and empty values. */
export function encodeQuery(query: QueryParams): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === null || value === undefined || value === '') {
      continue;
    }
    if (Array.isArray(value)) {
      value.forEach(v => search.append(key, String(v)));
    } else {
      search.append(key, String(value));
    }
  }
  const encoded = search.toString();
  return encoded ? `?${encoded}` : '';
}

function isErrorBody(value: unknown): value is IErrorBody {
  if (typeof value !== 'object' || value === null || !('error' in value)) {
    return false;
  }
  const error = (value as { error: unknown }).error;
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { message?: unknown }).message === 'string'
  );
}

/**
 * Call the REST API at `mlops/api/<endPoint>` and return its parsed JSON.
 *
 * @throws {MlopsApiError} on a non-2xx answer (with the server's message and hint) or when the
 * server cannot be reached.
 */
export async function requestAPI<T>(
  endPoint: string,
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, API_NAMESPACE, endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (reason) {
    throw new MlopsApiError({
      status: 0,
      type: 'NetworkError',
      message: `Cannot reach the Jupyter server: ${reason instanceof Error ? reason.message : String(reason)}`,
      hint: 'Check that JupyterLab is still running.'
    });
  }

  const text = await response.text();
  let body: unknown = null;
  if (text.length > 0) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }

  if (!response.ok) {
    if (isErrorBody(body)) {
      throw new MlopsApiError({
        status: response.status,
        type: body.error.type,
        message: body.error.message,
        hint: body.error.hint,
        field: body.error.field
      });
    }
    throw new MlopsApiError({
      status: response.status,
      type: response.status === 404 ? 'NotFound' : 'HttpError',
      message: `${response.status} ${response.statusText || 'error'} from ${endPoint}`,
      hint:
        response.status === 404
          ? 'Is the jupyter_mlops server extension enabled? Try `jupyter server extension list`.'
          : null
    });
  }
  if (body === null) {
    throw new MlopsApiError({
      status: response.status,
      type: 'InvalidResponse',
      message: `The server sent no JSON for ${endPoint}.`
    });
  }
  return body as T;
}
