import type { Transfer } from "./api";
import type { OptionValues } from "./catalog";
import type { Job, UploadedFile } from "./types";
import { TERMINAL } from "./types";

/** One dropped file: its upload, the conversion chosen for it and the job that runs it. */
export interface Item {
  key: number;
  file: File;
  transfer: Transfer | null;
  uploaded: UploadedFile | null;
  error: string;
  operation: string;
  target: string;
  values: OptionValues;
  job: Job | null;
}

export const isUploading = (it: Item) => !it.uploaded && !it.error;
export const isLive = (it: Item) =>
  isUploading(it) || (it.job !== null && !TERMINAL.includes(it.job.status));
