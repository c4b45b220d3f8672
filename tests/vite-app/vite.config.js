import { fileURLToPath } from "node:url";

export default {
  root: fileURLToPath(new URL(".", import.meta.url)),
  logLevel: "warn",
  build: {
    outDir: fileURLToPath(new URL("../../target/vite-app", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
  },
};
