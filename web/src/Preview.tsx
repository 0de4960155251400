import { h } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";

// Formats a browser shows by itself; the rest get a viewer loaded on first use
// (pdf.js, model-viewer) or a plain label.
const IMAGES = ["jpeg", "png", "webp", "avif", "gif", "bmp", "svg"];
const AUDIO = ["mp3", "m4a", "aac", "ogg", "opus", "flac", "wav", "webm"];
const MODELS = ["glb", "gltf"];

function kindOf(file: File, format: string): string {
  // The gateway's verdict from the bytes once uploaded; until then the name's extension
  // (only to pick a viewer: each viewer parses the content itself).
  const f = format || file.name.split(".").pop()?.toLowerCase() || "";
  if (IMAGES.includes(f) || (!format && file.type.startsWith("image/"))) return "image";
  if (AUDIO.includes(f) || (!format && file.type.startsWith("audio/"))) return "audio";
  if (f === "pdf") return "pdf";
  if (MODELS.includes(f)) return "model";
  return "none";
}

function useObjectUrl(file: File): string {
  const [url, setUrl] = useState("");
  useEffect(() => {
    const u = URL.createObjectURL(file);
    setUrl(u);
    return () => URL.revokeObjectURL(u);
  }, [file]);
  return url;
}

/** A preview of the file itself, drawn from the local copy (nothing is downloaded). */
export function Preview({ file, format }: { file: File; format: string }) {
  const url = useObjectUrl(file);
  const kind = kindOf(file, format);
  if (!url) return null;
  if (kind === "image") return <img class="preview" src={url} alt={`Preview of ${file.name}`} />;
  if (kind === "audio")
    return <audio class="preview" controls preload="metadata" src={url} aria-label={file.name} />;
  if (kind === "pdf") return <PdfPage file={file} />;
  if (kind === "model") return <ModelView url={url} name={file.name} />;
  return <div class="preview none">{format || "?"}</div>;
}

function PdfPage({ file }: { file: File }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let stop = false;
    (async () => {
      const [pdfjs, worker] = await Promise.all([
        import("pdfjs-dist"),
        import("pdfjs-dist/build/pdf.worker.min.mjs?url"),
      ]);
      pdfjs.GlobalWorkerOptions.workerSrc = worker.default;
      const doc = await pdfjs.getDocument({ data: await file.arrayBuffer(), isEvalSupported: false })
        .promise;
      const page = await doc.getPage(1);
      const base = page.getViewport({ scale: 1 });
      const viewport = page.getViewport({ scale: 160 / Math.max(base.width, base.height) });
      const el = canvas.current;
      if (stop || !el) return;
      el.width = viewport.width;
      el.height = viewport.height;
      await page.render({ canvas: el, viewport }).promise;
      await doc.destroy();
    })().catch(() => setFailed(true));
    return () => {
      stop = true;
    };
  }, [file]);
  if (failed) return <div class="preview none">pdf</div>;
  return <canvas class="preview" ref={canvas} role="img" aria-label={`First page of ${file.name}`} />;
}

function ModelView({ url, name }: { url: string; name: string }) {
  const [ready, setReady] = useState(false);
  useEffect(() => {
    import("@google/model-viewer").then(() => setReady(true), () => setReady(false));
  }, []);
  if (!ready) return <div class="preview none">3D</div>;
  return h("model-viewer", {
    class: "preview",
    src: url,
    alt: `3D view of ${name}`,
    "camera-controls": true,
    "auto-rotate": true,
  });
}
