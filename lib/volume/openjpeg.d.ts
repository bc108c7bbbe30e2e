// The cornerstone decoders' Emscripten factories and the JPEG Lossless decoder (the packages ship no
// typings); lib/volume/jpeg2000.ts and jpeg-codecs.ts type them.
declare module '@cornerstonejs/codec-openjpeg/decodewasmjs' {
  const factory: unknown;
  export default factory;
}
declare module '@cornerstonejs/codec-charls/decodewasmjs' {
  const factory: unknown;
  export default factory;
}
declare module '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs' {
  const factory: unknown;
  export default factory;
}
declare module 'jpeg-lossless-decoder-js' {
  export const Decoder: unknown;
}
