// The REST API from the browser: same origin, an optional API key (kept in session
// storage) as a bearer token, errors as ApiError with the API's code and message.
import { EventSource } from "eventsource";
import { type DetailedError, Upload as TusUpload } from "tus-js-client";
import type { ApiErrorBody, Job, ServiceFormats, UploadedFile } from "./types";
import { TERMINAL } from "./types";

const KEY_ITEM = "transmute.api-key";

export const apiKey = {
  get: (): string => sessionStorage.getItem(KEY_ITEM) ?? "",
  set: (key: string): void =>
    key ? sessionStorage.setItem(KEY_ITEM, key) : sessionStorage.removeItem(KEY_ITEM),
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Listeners told when the API refuses the credentials (the app then asks for a key). */
export const unauthorized = new EventTarget();

function authHeaders(): Record<string, string> {
  const key = apiKey.get();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

function errorFrom(status: number, text: string): ApiError {
  try {
    const body = JSON.parse(text) as ApiErrorBody;
    if (status === 401)
      return new ApiError(status, body.error.code, `This needs an API key: ${body.error.message}`);
    if (body.error) return new ApiError(status, body.error.code, body.error.message);
  } catch {
    // not the API's error body: a proxy's page, say
  }
  return new ApiError(status, "http_" + status, text.slice(0, 200) || `HTTP ${status}`);
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { ...authHeaders() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await resp.text();
  if (!resp.ok) {
    const err = errorFrom(resp.status, text);
    if (resp.status === 401) unauthorized.dispatchEvent(new Event("unauthorized"));
    throw err;
  }
  return JSON.parse(text) as T;
}

export const formats = () =>
  request<{ services: ServiceFormats[] }>("GET", "/v1/formats").then((r) => r.services);

export interface JobRequest {
  inputs: string[];
  target: string;
  operation: string;
  options: Record<string, unknown>;
}

export const submit = (job: JobRequest) => request<Job>("POST", "/v1/jobs", job);
export const getJob = (id: string) => request<Job>("GET", `/v1/jobs/${id}`);
export const cancel = (id: string) => request<Job>("DELETE", `/v1/jobs/${id}`);
export const listJobs = (pageToken: string, pageSize = 50) =>
  request<{ jobs: Job[]; next_page_token: string }>(
    "GET",
    `/v1/jobs?page_size=${pageSize}&page_token=${encodeURIComponent(pageToken)}`,
  );

export interface Transfer {
  loaded: number;
  total: number;
  bytesPerSecond: number;
}

export interface Upload {
  done: Promise<UploadedFile>;
  abort: () => void;
}

/** Uploads one file by the tus protocol (/v1/uploads) with tus-js-client: a dropped
 * connection is retried and resumed from the bytes the gateway has. Resolves with the
 * file as the gateway stored it (its sniffed type included). */
export function upload(file: File, onProgress: (t: Transfer) => void): Upload {
  const started = performance.now();
  let tus: TusUpload | null = null;
  let fail: (e: ApiError) => void = () => undefined;
  const done = new Promise<UploadedFile>((resolve, reject) => {
    fail = reject;
    tus = new TusUpload(file, {
      endpoint: new URL("/v1/uploads", location.href).toString(),
      headers: authHeaders(),
      metadata: { filename: file.name },
      retryDelays: [0, 1000, 3000, 5000, 10000],
      uploadDataDuringCreation: true, // a small file takes one request (creation-with-upload)
      removeFingerprintOnSuccess: true,
      onProgress: (sent, total) => {
        const seconds = (performance.now() - started) / 1000;
        onProgress({ loaded: sent, total, bytesPerSecond: seconds > 0 ? sent / seconds : 0 });
      },
      // Refusals (size, quota, key) are final; a lost connection or a busy gateway is not.
      onShouldRetry: (err) => {
        const status = err.originalResponse?.getStatus() ?? 0;
        return status === 0 || status === 409 || status === 423 || status >= 500;
      },
      onSuccess: () => {
        const id = (tus?.url ?? "").split("/").pop() ?? "";
        request<UploadedFile>("GET", `/v1/uploads/${id}`).then(resolve, reject);
      },
      onError: (err) => {
        const response = (err as DetailedError).originalResponse;
        if (!response) return reject(new ApiError(0, "network", "the upload was interrupted"));
        if (response.getStatus() === 401) unauthorized.dispatchEvent(new Event("unauthorized"));
        reject(errorFrom(response.getStatus(), response.getBody()));
      },
    });
    tus.start();
  });
  const abort = () => {
    // Terminates the upload on the gateway too: nothing of it is kept.
    void tus?.abort(true).catch(() => undefined);
    fail(new ApiError(0, "aborted", "upload cancelled"));
  };
  return { done, abort };
}

/** Follows a job over server-sent events until it ends; the EventSource library sends
 * the API key (the browser's own EventSource cannot) and reconnects after a drop, and
 * the stream then starts again from the job's current state. Returns a stop function. */
export function watch(id: string, onJob: (job: Job) => void): () => void {
  const source = new EventSource(`/v1/jobs/${id}/events`, {
    fetch: (input, init) =>
      fetch(input, { ...init, headers: { ...init?.headers, ...authHeaders() } }),
  });
  const take = (e: MessageEvent) => {
    const job = JSON.parse(e.data) as Job;
    onJob(job);
    if (TERMINAL.includes(job.status)) source.close();
  };
  source.addEventListener("progress", take);
  source.addEventListener("final", take);
  return () => source.close();
}

/** The URL a plain link (no Authorization header) downloads an output from. Without
 * authentication that is the API route; with it, the route redirects to a link that
 * needs no key (signed by the gateway, or presigned by the object store): follow the
 * redirect, keep its URL and stop reading. */
export async function downloadUrl(path: string): Promise<string> {
  if (!apiKey.get()) return path;
  const resp = await fetch(path, { headers: authHeaders() });
  if (!resp.ok) throw errorFrom(resp.status, await resp.text());
  await resp.body?.cancel();
  return resp.url;
}

/** An output's bytes (for the zip of all outputs). */
export async function fetchOutput(path: string): Promise<Response> {
  const resp = await fetch(path, { headers: authHeaders() });
  if (!resp.ok) throw errorFrom(resp.status, await resp.text());
  return resp;
}
