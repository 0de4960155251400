import { useEffect, useState } from "preact/hooks";
import * as api from "./api";
import { bytes, when } from "./format";
import { DownloadLink } from "./Results";
import type { Job, Status } from "./types";

const STATUSES: Status[] = ["queued", "running", "succeeded", "failed", "cancelled"];

/** The tenant's recent jobs, newest first, a page at a time; outputs can be downloaded
 * again until they expire. */
export function History() {
  const [jobs, setJobs] = useState<Job[]>([]);
  const [next, setNext] = useState<string | null>("");
  const [filter, setFilter] = useState<Status | "">("");
  const [error, setError] = useState("");
  const [loading, setLoading] = useState(false);

  const load = async (token: string) => {
    setLoading(true);
    try {
      const page = await api.listJobs(token);
      setJobs((old) => (token ? [...old, ...page.jobs] : page.jobs));
      setNext(page.next_page_token || null);
      setError("");
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setLoading(false);
    }
  };

  useEffect(() => {
    load("");
  }, []);

  const shown = filter ? jobs.filter((j) => j.status === filter) : jobs;
  const now = Date.now();

  return (
    <section aria-labelledby="history-title">
      <div class="toolbar">
        <h2 id="history-title">History</h2>
        <label>
          Status{" "}
          <select value={filter} onChange={(e) => setFilter(e.currentTarget.value as Status | "")}>
            <option value="">all</option>
            {STATUSES.map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </label>
        <button type="button" onClick={() => load("")} disabled={loading}>
          Refresh
        </button>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="table-wrap">
        <table class="history">
          <thead>
            <tr>
              <th scope="col">Created</th>
              <th scope="col">Files</th>
              <th scope="col">Conversion</th>
              <th scope="col">Status</th>
              <th scope="col">Outputs</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((job) => {
              const expired = job.expires_at !== null && Date.parse(job.expires_at) < now;
              return (
                <tr data-job={job.id} data-status={job.status}>
                  <td>{when(job.created_at)}</td>
                  <td>{job.inputs.map((i) => `${i.name} (${bytes(i.size)})`).join(", ")}</td>
                  <td>
                    {job.operation === "convert" ? "" : `${job.operation.replace(/_/g, " ")} → `}
                    {job.target}
                  </td>
                  <td>
                    <span class={`status ${job.status}`}>{job.status}</span>
                    {job.error && <div class="error">{job.error.message}</div>}
                  </td>
                  <td>
                    {job.status === "succeeded" &&
                      (expired ? (
                        <span>expired</span>
                      ) : (
                        job.outputs.map((o) => <DownloadLink out={o} />)
                      ))}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {shown.length === 0 && !loading && <p>No jobs{filter ? ` ${filter}` : ""} yet.</p>}
      {next && (
        <button type="button" onClick={() => load(next)} disabled={loading}>
          Load more
        </button>
      )}
    </section>
  );
}
