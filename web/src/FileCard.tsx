import type { Choice, OptionValues } from "./catalog";
import { bytes, speed } from "./format";
import type { Item } from "./item";
import { isLive, isUploading } from "./item";
import { JobProgress } from "./JobProgress";
import { OptionsForm } from "./OptionsForm";
import { Preview } from "./Preview";
import { Results } from "./Results";

interface Props {
  item: Item;
  choices: Choice[];
  choice: Choice | undefined;
  target: string;
  onOperation: (op: string) => void;
  onTarget: (target: string) => void;
  onValues: (values: OptionValues) => void;
  onConvert: () => void;
  onCancel: () => void;
  onRemove: () => void;
}

export function FileCard(p: Props) {
  const { item, choice } = p;
  const { file, uploaded, transfer, job } = item;
  const id = `file-${item.key}`;
  const live = isLive(item);
  const noConverter = uploaded && p.choices.length === 0;

  return (
    <li class="card" aria-labelledby={id} data-status={job?.status ?? (uploaded ? "uploaded" : "new")}>
      <Preview file={file} format={uploaded?.format ?? ""} />
      <div class="body">
        <h3 id={id}>{file.name}</h3>
        <p class="meta">
          {bytes(file.size)}
          {uploaded && (
            <>
              {" · "}
              <span class="format" title={uploaded.content_type}>
                {uploaded.format}
              </span>
            </>
          )}
        </p>

        {isUploading(item) && (
          <div class="progress">
            <progress max={file.size || 1} value={transfer?.loaded ?? 0} aria-label={`Upload of ${file.name}`} />
            <span>
              uploading {bytes(transfer?.loaded ?? 0)} of {bytes(file.size)}
              {transfer && transfer.bytesPerSecond > 0 && ` · ${speed(transfer.bytesPerSecond)}`}
            </span>
          </div>
        )}

        {noConverter && (
          <p class="error" role="alert">
            No converter reads this file (its bytes say: {uploaded.format}).
          </p>
        )}

        {uploaded && choice && (
          <fieldset class="choose" disabled={live}>
            <legend class="visually-hidden">Conversion of {file.name}</legend>
            {p.choices.length > 1 && (
              <label>
                Operation{" "}
                <select value={choice.operation} onChange={(e) => p.onOperation(e.currentTarget.value)}>
                  {p.choices.map((c) => (
                    <option value={c.operation}>{c.operation.replace(/_/g, " ")}</option>
                  ))}
                </select>
              </label>
            )}
            <label>
              To{" "}
              <select
                aria-label={`Target format for ${file.name}`}
                value={p.target}
                onChange={(e) => p.onTarget(e.currentTarget.value)}
              >
                {choice.targets.map((t) => (
                  <option value={t}>{t}</option>
                ))}
              </select>
            </label>
            <OptionsForm specs={choice.options} values={item.values} onChange={p.onValues} />
          </fieldset>
        )}

        {job && <JobProgress job={job} />}
        {item.error && (
          <p class="error" role="alert">
            {item.error}
          </p>
        )}
        {job?.status === "succeeded" && <Results job={job} before={file.size} />}

        <div class="actions">
          {uploaded && choice && !live && (
            <button type="button" onClick={p.onConvert}>
              {job ? "Convert again" : "Convert"}
            </button>
          )}
          {live && (
            <button type="button" onClick={p.onCancel}>
              Cancel
            </button>
          )}
          {!live && (
            <button type="button" class="link" onClick={p.onRemove}>
              Remove
            </button>
          )}
        </div>
      </div>
    </li>
  );
}
