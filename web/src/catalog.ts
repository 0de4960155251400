// What can be done with a file of a given format, from GET /v1/formats: nothing here
// names a format or an option, so a new converter or option appears by itself.
import type { OptionSpec, ServiceFormats } from "./types";

export interface Choice {
  operation: string;
  targets: string[];
  options: OptionSpec[];
}

/** Operations whose converters read `format`, each with its targets and the options
 * that apply to it ("convert" first). */
export function choicesFor(services: ServiceFormats[], format: string): Choice[] {
  const byOperation = new Map<string, Choice>();
  for (const svc of services) {
    for (const conv of svc.conversions) {
      if (!conv.inputs.includes(format)) continue;
      const choice = byOperation.get(conv.operation) ?? {
        operation: conv.operation,
        targets: [],
        options: [],
      };
      for (const t of conv.outputs) if (!choice.targets.includes(t)) choice.targets.push(t);
      for (const opt of svc.options) {
        const applies = opt.operations.length === 0 || opt.operations.includes(conv.operation);
        if (applies && !choice.options.some((o) => o.name === opt.name)) choice.options.push(opt);
      }
      byOperation.set(conv.operation, choice);
    }
  }
  return [...byOperation.values()].sort(
    (a, b) => Number(b.operation === "convert") - Number(a.operation === "convert"),
  );
}

/** The target first offered for a file: another format than its own, when there is one. */
export function defaultTarget(choice: Choice, format: string): string {
  return choice.targets.find((t) => t !== format) ?? choice.targets[0] ?? "";
}

export type OptionValues = Record<string, string | boolean>;

/** The options to send: only those the person set, typed as the converter declares. */
export function optionPayload(specs: OptionSpec[], values: OptionValues): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const spec of specs) {
    const value = values[spec.name];
    if (value === undefined || value === "") continue;
    if (spec.type === "boolean") out[spec.name] = value === true || value === "true";
    else if (spec.type === "integer") out[spec.name] = parseInt(String(value), 10);
    else if (spec.type === "number") out[spec.name] = parseFloat(String(value));
    else out[spec.name] = value;
  }
  return out;
}

/** Every target any operation offers, for the "all files" control. */
export function allTargets(services: ServiceFormats[]): string[] {
  const seen = new Set<string>();
  for (const svc of services) for (const c of svc.conversions) c.outputs.forEach((t) => seen.add(t));
  return [...seen].sort();
}
