import type { OptionValues } from "./catalog";
import type { OptionSpec } from "./types";

/** The form for a converter's options, generated from their declared types, ranges,
 * choices, defaults and descriptions. */
export function OptionsForm(p: {
  specs: OptionSpec[];
  values: OptionValues;
  onChange: (v: OptionValues) => void;
}) {
  if (p.specs.length === 0) return null;
  const set = (name: string, value: string | boolean) => p.onChange({ ...p.values, [name]: value });
  return (
    <details class="options">
      <summary>Options</summary>
      <div class="grid">
        {p.specs.map((spec) => (
          <Field spec={spec} value={p.values[spec.name]} onChange={(v) => set(spec.name, v)} />
        ))}
      </div>
    </details>
  );
}

function Field({
  spec,
  value,
  onChange,
}: {
  spec: OptionSpec;
  value: string | boolean | undefined;
  onChange: (v: string | boolean) => void;
}) {
  const label = spec.name.replace(/_/g, " ");
  if (spec.type === "boolean") {
    const checked = value === undefined ? spec.default === "true" : value === true;
    return (
      <label class="check" title={spec.description}>
        <input type="checkbox" checked={checked} onChange={(e) => onChange(e.currentTarget.checked)} />
        {label}
      </label>
    );
  }
  if (spec.choices.length > 0) {
    return (
      <label title={spec.description}>
        {label}
        <select value={String(value ?? "")} onChange={(e) => onChange(e.currentTarget.value)}>
          <option value="">{spec.default ? `default (${spec.default})` : "default"}</option>
          {spec.choices.map((c) => (
            <option value={c}>{c}</option>
          ))}
        </select>
      </label>
    );
  }
  const numeric = spec.type === "integer" || spec.type === "number";
  const common = {
    placeholder: spec.default,
    value: String(value ?? ""),
    onInput: (e: Event) => onChange((e.currentTarget as HTMLInputElement).value),
  };
  return (
    <label title={spec.description}>
      {label}
      {numeric ? (
        <input
          type="number"
          min={spec.minimum ?? undefined}
          max={spec.maximum ?? undefined}
          step={spec.type === "integer" ? 1 : "any"}
          {...common}
        />
      ) : spec.name.endsWith("password") ? (
        <input type="password" autocomplete="off" {...common} />
      ) : (
        <input type="text" {...common} />
      )}
      <small>{spec.description}</small>
    </label>
  );
}
