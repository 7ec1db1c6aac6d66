// Native binaries imported `with { type: "file" }` (lib/embed.ts): Bun gives their path.
declare module "*.so" {
  const path: string;
  export default path;
}
declare module "*.dll" {
  const path: string;
  export default path;
}
