import { defineConfig } from "vite";

// The gateway serves dist/ at `/` (index.html) and `/assets/` (hashed, cached for a year).
// Large viewers (pdf.js, model-viewer) are split into chunks loaded on first use, so
// the first load stays small.
export default defineConfig({
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    assetsInlineLimit: 0,
    sourcemap: false,
    chunkSizeWarningLimit: 2000,
  },
  server: {
    proxy: { "/v1": "http://127.0.0.1:8080" },
  },
});
