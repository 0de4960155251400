import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, formats, unauthorized } from "./api";
import { Converter } from "./Converter";
import { History } from "./History";
import { KeyDialog } from "./KeyDialog";
import type { ServiceFormats } from "./types";
import "./styles.css";

function useRoute(): string {
  const [route, setRoute] = useState(location.hash || "#/");
  useEffect(() => {
    const onHash = () => setRoute(location.hash || "#/");
    addEventListener("hashchange", onHash);
    return () => removeEventListener("hashchange", onHash);
  }, []);
  return route;
}

function App() {
  const route = useRoute();
  const [services, setServices] = useState<ServiceFormats[] | null>(null);
  const [loadError, setLoadError] = useState("");
  const [askKey, setAskKey] = useState(false);
  const [keyVersion, setKeyVersion] = useState(0);

  useEffect(() => {
    const onUnauthorized = () => setAskKey(true);
    unauthorized.addEventListener("unauthorized", onUnauthorized);
    return () => unauthorized.removeEventListener("unauthorized", onUnauthorized);
  }, []);

  useEffect(() => {
    formats()
      .then((s) => {
        setServices(s);
        setLoadError("");
      })
      .catch((e: ApiError) => setLoadError(e.message))
      .finally(() => {
        // What the browser test and the first-load benchmark wait for.
        performance.mark("transmute-ready");
        document.body.dataset.ready = "true";
      });
  }, [keyVersion]);

  return (
    <>
      <header class="top">
        <a class="brand" href="#/">
          Transmute
        </a>
        <nav aria-label="Main">
          <a href="#/" aria-current={route === "#/" ? "page" : undefined}>
            Convert
          </a>
          <a href="#/history" aria-current={route === "#/history" ? "page" : undefined}>
            History
          </a>
          <button type="button" class="link" onClick={() => setAskKey(true)}>
            API key
          </button>
        </nav>
      </header>
      <main>
        {loadError && (
          <p class="error" role="alert">
            Could not load the formats: {loadError}
          </p>
        )}
        {/* The converter stays mounted, so files in progress survive a look at the history. */}
        <div hidden={route === "#/history"}>
          <Converter services={services ?? []} />
        </div>
        {route === "#/history" && <History key={keyVersion} />}
      </main>
      {askKey && (
        <KeyDialog
          onClose={(changed) => {
            setAskKey(false);
            if (changed) setKeyVersion((v) => v + 1);
          }}
        />
      )}
    </>
  );
}

render(<App />, document.getElementById("app")!);
