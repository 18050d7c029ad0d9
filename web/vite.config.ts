import { defineConfig } from "vitest/config";

// The app is served by the API function under /ui/ (behind any API Gateway stage prefix), so
// asset URLs are relative ("./assets/..."); the server gives index.html a relative <base href>
// for client-side routes deeper than /ui/.
export default defineConfig({
  base: "./",
  build: {
    outDir: "../functions/api/dashboard",
    emptyOutDir: true,
    // Only text files: API Gateway's REST proxy needs binary media types for anything else.
    assetsInlineLimit: 100_000,
    sourcemap: false,
  },
  test: {
    environment: "node",
    include: ["test/**/*.test.ts"],
  },
});
