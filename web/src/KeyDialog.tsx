import { useEffect, useRef, useState } from "preact/hooks";
import { apiKey } from "./api";

/** Asks for an API key once; it is kept in session storage (gone with the tab). */
export function KeyDialog({ onClose }: { onClose: (changed: boolean) => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [value, setValue] = useState(apiKey.get());

  useEffect(() => {
    dialog.current?.showModal();
  }, []);

  const save = (e: Event) => {
    e.preventDefault();
    apiKey.set(value.trim());
    onClose(true);
  };

  return (
    <dialog ref={dialog} aria-labelledby="key-title" onCancel={() => onClose(false)}>
      <form onSubmit={save}>
        <h2 id="key-title">API key</h2>
        <p>
          When this gateway has authentication on, paste an API key (<code>tm_...</code>) or a
          token. It is kept for this tab only.
        </p>
        <label>
          Key
          <input
            name="api-key"
            type="password"
            autocomplete="off"
            value={value}
            onInput={(e) => setValue(e.currentTarget.value)}
          />
        </label>
        <div class="actions">
          <button type="submit">Save</button>
          <button
            type="button"
            onClick={() => {
              apiKey.set("");
              onClose(true);
            }}
          >
            Forget
          </button>
          <button type="button" onClick={() => onClose(false)}>
            Close
          </button>
        </div>
      </form>
    </dialog>
  );
}
