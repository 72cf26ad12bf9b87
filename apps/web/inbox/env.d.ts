// Stylesheets imported by the bundle entry: Bun's bundler emits them as a CSS file.
declare module "*.css";
