// The dashboard builds into the Python package, which serves it at /ui/ and ships it in
// the wheel. `base: "./"`: every asset URL is relative, so the same build also works from
// any other origin or path (the static deployment, see docs/dashboard.md).
import { defineConfig } from "vite";

export default defineConfig({
  base: "./",
  build: {
    outDir: "../src/arka/interfaces/http/ui_static",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1200,
  },
  // `npm run dev`: this folder's sources, live, against the ARKA Core at $ARKA_API
  // (default http://127.0.0.1:8080); the API calls go through this server's proxy.
  server: {
    proxy: { "/api": process.env.ARKA_API || "http://127.0.0.1:8080" },
  },
  test: {
    include: ["test/**/*.test.js"],
    environment: "node",
  },
});
