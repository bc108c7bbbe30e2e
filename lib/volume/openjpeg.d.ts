// The OpenJPEG decoder's Emscripten factory (the package ships no typings); lib/volume/jpeg2000.ts types it.
declare module '@cornerstonejs/codec-openjpeg/decodewasmjs' {
  const factory: unknown;
  export default factory;
}
