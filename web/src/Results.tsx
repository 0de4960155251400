import { useState } from "preact/hooks";
import * as api from "./api";
import { bytes, change } from "./format";
import type { Job, Output } from "./types";

/** A succeeded job's outputs: download, size against the input, what the converter measured. */
export function Results({ job, before }: { job: Job; before: number }) {
  return (
    <ul class="outputs">
      {job.outputs.map((out) => (
        <li>
          <DownloadLink out={out} />{" "}
          <span class="sizes">
            {bytes(before)} → {bytes(out.size)} ({change(before, out.size)})
          </span>
          <Stats details={out.details} />
        </li>
      ))}
    </ul>
  );
}

export function DownloadLink({ out }: { out: Output }) {
  const [error, setError] = useState("");
  if (!api.apiKey.get())
    return (
      <a class="download" href={out.url} download={out.name}>
        Download {out.name}
      </a>
    );
  // With a key, the route answers with a redirect to a link that needs none.
  const go = async () => {
    try {
      const a = document.createElement("a");
      a.href = await api.downloadUrl(out.url);
      a.download = out.name;
      a.click();
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <>
      <button type="button" class="download" onClick={go}>
        Download {out.name}
      </button>
      {error && <span class="error">{error}</span>}
    </>
  );
}

function flat(details: Record<string, unknown>, prefix = ""): [string, string][] {
  return Object.entries(details).flatMap(([k, v]): [string, string][] => {
    const name = prefix ? `${prefix} ${k}` : k;
    if (v !== null && typeof v === "object" && !Array.isArray(v))
      return flat(v as Record<string, unknown>, name);
    return [[name.replace(/_/g, " "), Array.isArray(v) ? v.join(", ") : String(v)]];
  });
}

function Stats({ details }: { details: Record<string, unknown> }) {
  const rows = flat(details ?? {});
  if (rows.length === 0) return null;
  return (
    <details class="stats">
      <summary>Details</summary>
      <dl>
        {rows.map(([k, v]) => (
          <>
            <dt>{k}</dt>
            <dd>{v}</dd>
          </>
        ))}
      </dl>
    </details>
  );
}
