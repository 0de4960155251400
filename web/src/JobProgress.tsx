import { duration } from "./format";
import type { Job } from "./types";

/** A job's live state as SSE reports it: phase, percent, speed and ETA when known. */
export function JobProgress({ job }: { job: Job }) {
  const { progress, status } = job;
  const parts = [status === "running" || status === "queued" ? progress.phase : status];
  parts.push(`${Math.round(progress.percent)} %`);
  if (progress.rate) parts.push(`${progress.rate.toFixed(1)}x`);
  if (progress.eta_seconds !== null && status === "running")
    parts.push(`${duration(progress.eta_seconds)} left`);
  if (job.cached) parts.push("from the cache");
  return (
    <div class="progress" data-job={job.id}>
      <progress max={100} value={progress.percent} aria-label={`Job ${job.id}`} />
      <span class="job-state">{parts.join(" · ")}</span>
      {job.error && (
        <p class="error" role="alert">
          {job.error.message} <code>{job.error.code}</code>
        </p>
      )}
    </div>
  );
}
