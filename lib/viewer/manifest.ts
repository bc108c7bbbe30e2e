/**
 * `manifest.json` of a viewer page: the cases and where their files are, relative to the page. Shared
 * by the server side (which writes it) and the browser script (which reads it); no Node imports here.
 */
export interface ViewerManifest {
  title: string;
  labels: { value: number; name: string; rgb: [number, number, number] }[];
  cases: { name: string; ct: string; seg: string; report: string | null }[];
}

/** Window presets in HU, [low, high] (width/level: abdomen 400/40, liver 150/30). */
export const WINDOW_PRESETS: Record<string, [number, number]> = {
  abdomen: [-160, 240],
  liver: [-45, 105],
};

/** What the page exposes on `window.raunetViewer` for tests and scripting. */
export interface ViewerHook {
  state: 'loading' | 'ready' | 'error';
  error: string | null;
  caseName: string | null;
  /** Crosshair position in world mm (RAS+). */
  crosshairMm(): number[];
  /** Page (CSS pixel) position of a world point on the axial tile, or null when it is not shown. */
  pageXYOfMm(mm: number[]): [number, number] | null;
  /** Move the crosshair to a world point. */
  moveToMm(mm: number[]): void;
}
