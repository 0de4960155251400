import { downloadZip } from "client-zip";
import { useMemo, useRef, useState } from "preact/hooks";
import * as api from "./api";
import type { OptionValues } from "./catalog";
import { allTargets, choicesFor, defaultTarget, optionPayload } from "./catalog";
import { FileCard } from "./FileCard";
import type { Item } from "./item";
import { isLive } from "./item";
import type { ServiceFormats } from "./types";

let nextKey = 1;

/** The drop zone and the files dropped on it: each is uploaded at once (the gateway
 * tells its real type), then converted with the operation, target and options chosen. */
export function Converter({ services }: { services: ServiceFormats[] }) {
  const [items, setItems] = useState<Item[]>([]);
  const [dragging, setDragging] = useState(false);
  const [zipError, setZipError] = useState("");
  const stops = useRef(new Map<number, () => void>());
  const targets = useMemo(() => allTargets(services), [services]);

  const update = (key: number, patch: Partial<Item>) =>
    setItems((all) => all.map((it) => (it.key === key ? { ...it, ...patch } : it)));

  const add = (files: FileList | File[]) => {
    const fresh: Item[] = [...files].map((file) => ({
      key: nextKey++,
      file,
      transfer: null,
      uploaded: null,
      error: "",
      operation: "",
      target: "",
      values: {},
      job: null,
    }));
    setItems((all) => [...all, ...fresh]);
    for (const item of fresh) {
      const up = api.upload(item.file, (transfer) => update(item.key, { transfer }));
      stops.current.set(item.key, up.abort);
      up.done
        .then((uploaded) => update(item.key, { uploaded }))
        .catch((e: api.ApiError) => update(item.key, { error: e.message }))
        .finally(() => stops.current.delete(item.key));
    }
  };

  const resolved = (item: Item) => {
    const format = item.uploaded?.format ?? "";
    const choices = choicesFor(services, format);
    const choice = choices.find((c) => c.operation === item.operation) ?? choices[0];
    const target =
      choice && choice.targets.includes(item.target) ? item.target : choice ? defaultTarget(choice, format) : "";
    return { choices, choice, target };
  };

  const convert = async (item: Item) => {
    const { choice, target } = resolved(item);
    if (!item.uploaded || !choice || !target) return;
    update(item.key, { error: "", job: null });
    try {
      const job = await api.submit({
        inputs: [item.uploaded.id],
        operation: choice.operation,
        target,
        options: optionPayload(choice.options, item.values),
      });
      update(item.key, { job });
      stops.current.set(item.key, api.watch(job.id, (j) => update(item.key, { job: j })));
    } catch (e) {
      update(item.key, { error: (e as Error).message });
    }
  };

  const cancel = async (item: Item) => {
    if (!item.job) {
      stops.current.get(item.key)?.(); // an upload in flight
      return;
    }
    try {
      update(item.key, { job: await api.cancel(item.job.id) });
    } catch (e) {
      update(item.key, { error: (e as Error).message });
    }
  };

  const remove = (item: Item) => {
    stops.current.get(item.key)?.();
    stops.current.delete(item.key);
    setItems((all) => all.filter((it) => it.key !== item.key));
  };

  const ready = items.filter((it) => it.uploaded && !isLive(it) && resolved(it).choice);
  const done = items.flatMap((it) =>
    it.job?.status === "succeeded" ? it.job.outputs.map((o) => ({ job: it.job!, out: o })) : [],
  );

  const setAllTargets = (target: string) =>
    setItems((all) =>
      all.map((it) => {
        const { choices } = resolved(it);
        const choice = choices.find((c) => c.targets.includes(target));
        return choice ? { ...it, operation: choice.operation, target } : it;
      }),
    );

  const zipAll = async () => {
    setZipError("");
    try {
      const names = new Set<string>();
      const files = await Promise.all(
        done.map(async ({ out }) => {
          let name = out.name;
          for (let i = 2; names.has(name); i++) name = `${i}-${out.name}`;
          names.add(name);
          return { name, input: await api.fetchOutput(out.url) };
        }),
      );
      const blob = await downloadZip(files).blob();
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = "transmute-outputs.zip";
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
    } catch (e) {
      setZipError((e as Error).message);
    }
  };

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    if (e.dataTransfer?.files.length) add(e.dataTransfer.files);
  };

  return (
    <section aria-label="Convert files">
      <label
        class={`drop${dragging ? " over" : ""}`}
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
      >
        <input
          type="file"
          multiple
          class="visually-hidden"
          aria-label="Choose files to convert"
          onChange={(e) => {
            const input = e.currentTarget;
            if (input.files?.length) add(input.files);
            input.value = "";
          }}
        />
        <strong>Drop files here</strong> or press to choose them: images, audio, PDFs,
        office documents, 3D models.
      </label>

      {items.length > 0 && (
        <div class="toolbar">
          <label>
            All files to{" "}
            <select aria-label="Target for all files" onChange={(e) => setAllTargets(e.currentTarget.value)}>
              <option value="">choose…</option>
              {targets.map((t) => (
                <option value={t}>{t}</option>
              ))}
            </select>
          </label>
          <button type="button" disabled={ready.length === 0} onClick={() => ready.forEach(convert)}>
            Convert all ({ready.length})
          </button>
          <button type="button" disabled={done.length === 0} onClick={zipAll}>
            Download all (.zip)
          </button>
          {zipError && (
            <span class="error" role="alert">
              {zipError}
            </span>
          )}
        </div>
      )}

      <ul class="files" aria-live="polite">
        {items.map((item) => {
          const { choices, choice, target } = resolved(item);
          return (
            <FileCard
              key={item.key}
              item={item}
              choices={choices}
              choice={choice}
              target={target}
              onOperation={(operation) => update(item.key, { operation, target: "", values: {} })}
              onTarget={(t) => update(item.key, { target: t })}
              onValues={(values: OptionValues) => update(item.key, { values })}
              onConvert={() => convert(item)}
              onCancel={() => cancel(item)}
              onRemove={() => remove(item)}
            />
          );
        })}
      </ul>
    </section>
  );
}
