// The REST API's documents (docs/api.md), as the app reads them.

export type Status = "queued" | "running" | "succeeded" | "failed" | "cancelled";
export const TERMINAL: Status[] = ["succeeded", "failed", "cancelled"];

export interface UploadedFile {
  id: string;
  name: string;
  size: number;
  sha256: string;
  content_type: string;
  format: string;
}

export interface Progress {
  percent: number;
  phase: string;
  message: string;
  rate: number | null;
  eta_seconds: number | null;
}

export interface Output {
  name: string;
  size: number;
  sha256: string;
  content_type: string;
  url: string;
  details: Record<string, unknown>;
}

export interface Job {
  id: string;
  service: string;
  operation: string;
  inputs: { file_id: string; name: string; size: number; content_type: string }[];
  target: string;
  options: Record<string, unknown>;
  status: Status;
  progress: Progress;
  outputs: Output[];
  error: { code: string; message: string } | null;
  cached?: boolean;
  created_at: string;
  finished_at: string | null;
  expires_at: string | null;
}

export interface OptionSpec {
  name: string;
  type: "integer" | "number" | "boolean" | "string";
  description: string;
  default: string;
  choices: string[];
  minimum: number | null;
  maximum: number | null;
  operations: string[];
}

export interface Conversion {
  operation: string;
  inputs: string[];
  outputs: string[];
  max_inputs: number;
}

export interface ServiceFormats {
  service: string;
  conversions: Conversion[];
  options: OptionSpec[];
}

export interface ApiErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}
