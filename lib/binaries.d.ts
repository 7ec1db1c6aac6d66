// Native binaries imported `with { type: "file" }` (the published lib/prebuilt.ts, which
// references this file so a user's tsc sees it too): Bun gives their path.
declare module "*.so" {
  const path: string;
  export default path;
}
declare module "*.dll" {
  const path: string;
  export default path;
}
