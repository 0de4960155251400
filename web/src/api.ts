// The REST API from the browser: same origin, an optional API key (kept in session
// storage) as a bearer token, errors as ApiError with the API's code and message.
import { EventSource } from "eventsource";
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

/** Streams one file as the raw body of POST /v1/files. XMLHttpRequest, because fetch
 * reports no upload progress. */
export function upload(file: File, onProgress: (t: Transfer) => void): Upload {
  const xhr = new XMLHttpRequest();
  const started = performance.now();
  const done = new Promise<UploadedFile>((resolve, reject) => {
    xhr.open("POST", `/v1/files?filename=${encodeURIComponent(file.name)}`);
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.onprogress = (e) => {
      const seconds = (performance.now() - started) / 1000;
      onProgress({
        loaded: e.loaded,
        total: e.lengthComputable ? e.total : file.size,
        bytesPerSecond: seconds > 0 ? e.loaded / seconds : 0,
      });
    };
    xhr.onload = () => {
      if (xhr.status === 201) resolve(JSON.parse(xhr.responseText) as UploadedFile);
      else {
        if (xhr.status === 401) unauthorized.dispatchEvent(new Event("unauthorized"));
        reject(errorFrom(xhr.status, xhr.responseText));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, "network", "the upload was interrupted"));
    xhr.onabort = () => reject(new ApiError(0, "aborted", "upload cancelled"));
    xhr.send(file);
  });
  return { done, abort: () => xhr.abort() };
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
