/**
 * The viewer page's script (bundled with niivue by `../bundle.ts`): reads `manifest.json`, shows the CT
 * with the label map in three planes and a 3D render, and fills the legend, report and tumor list.
 */
import { MULTIPLANAR_TYPE, Niivue, SHOW_RENDER, SLICE_TYPE } from '@niivue/niivue';
import { type ViewerHook, type ViewerManifest, WINDOW_PRESETS } from '../manifest.ts';

interface Tumor {
  id: number;
  volumeMl: number;
  centroidVoxel: number[];
  centroidWorld: number[];
}

interface Report {
  liver?: { volumeMl?: number };
  tumors?: { count?: number; volumeMl?: number; items?: Tumor[] };
  tumorBurden?: number;
  flags?: { code: string; severity: string; message: string }[];
  demoModels?: boolean;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const hook: ViewerHook = {
  state: 'loading',
  error: null,
  caseName: null,
  crosshairMm: () => [],
  pageXYOfMm: () => null,
  moveToMm: () => {},
};
(window as unknown as { raunetViewer: ViewerHook }).raunetViewer = hook;

function fail(message: string): void {
  hook.state = 'error';
  hook.error = message;
  const box = $('error');
  box.textContent = `Could not load the data.\n\n${message}`;
  box.style.display = 'block';
  $('status').textContent = 'error';
}

async function fetchBytes(url: string): Promise<ArrayBuffer> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${res.statusText}`);
  return res.arrayBuffer();
}

async function fetchJson<T>(url: string): Promise<T> {
  const text = new TextDecoder().decode(await fetchBytes(url));
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new Error(`${url}: not valid JSON (${(e as Error).message})`);
  }
}

function row(cells: (string | Node)[], tag = 'td'): HTMLTableRowElement {
  const tr = document.createElement('tr');
  for (const c of cells) {
    const td = document.createElement(tag);
    td.append(c);
    tr.append(td);
  }
  return tr;
}

const fmt = (x: number | undefined, digits = 1) => (x === undefined ? '-' : x.toFixed(digits));

const nv = new Niivue({
  backColor: [0, 0, 0, 1],
  show3Dcrosshair: true,
  isRadiologicalConvention: true,
  multiplanarShowRender: SHOW_RENDER.ALWAYS,
  crosshairColor: [1, 1, 0, 1],
  crosshairWidth: 1,
});

function fillLegend(manifest: ViewerManifest, report: Report | null): void {
  const body = $('legend').querySelector('tbody')!;
  body.replaceChildren();
  const volumes: Record<string, number | undefined> = {
    liver: report?.liver?.volumeMl,
    tumor: report?.tumors?.volumeMl,
  };
  for (const l of manifest.labels) {
    const sw = document.createElement('span');
    sw.className = 'swatch';
    sw.style.background = `rgb(${l.rgb.join(',')})`;
    const name = document.createElement('span');
    name.append(sw, l.name);
    const tr = row([name, volumes[l.name] === undefined ? '' : `${fmt(volumes[l.name])} mL`]);
    tr.dataset.label = l.name;
    body.append(tr);
  }
}

function fillReport(report: Report | null): void {
  const summary = $('summary').querySelector('tbody')!;
  summary.replaceChildren();
  const flags = $('flags');
  flags.replaceChildren();
  $('demo').style.display = report?.demoModels ? 'block' : 'none';
  const tumors = $('tumors').querySelector('tbody')!;
  tumors.replaceChildren();
  if (!report) {
    summary.append(row(['no report for this case']));
    return;
  }
  summary.append(
    row(['liver volume', `${fmt(report.liver?.volumeMl)} mL`]),
    row(['tumors', String(report.tumors?.count ?? '-')]),
    row(['tumor volume', `${fmt(report.tumors?.volumeMl)} mL`]),
    row(['tumor burden', `${fmt((report.tumorBurden ?? 0) * 100)} %`]),
  );
  for (const f of report.flags ?? []) {
    const li = document.createElement('li');
    li.className = `flag-${f.severity}`;
    li.textContent = `${f.severity}: ${f.message}`;
    flags.append(li);
  }
  for (const t of report.tumors?.items ?? []) {
    const tr = row([String(t.id), fmt(t.volumeMl, 2), t.centroidWorld.map((v) => v.toFixed(0)).join(', ')]);
    tr.dataset.tumor = String(t.id);
    tr.addEventListener('click', () => {
      for (const other of tumors.querySelectorAll('tr')) other.classList.remove('selected');
      tr.classList.add('selected');
      hook.moveToMm(t.centroidWorld);
    });
    tumors.append(tr);
  }
}

function setWindow(preset: string): void {
  const [lo, hi] = WINDOW_PRESETS[preset];
  const ct = nv.volumes[0];
  if (!ct) return;
  ct.cal_min = lo;
  ct.cal_max = hi;
  nv.updateGLVolume();
  for (const b of document.querySelectorAll<HTMLButtonElement>('button[data-preset]'))
    b.classList.toggle('active', b.dataset.preset === preset);
}

async function showCase(manifest: ViewerManifest, index: number): Promise<void> {
  const c = manifest.cases[index];
  hook.state = 'loading';
  hook.caseName = c.name;
  $('status').textContent = `loading ${c.name}…`;
  const [ctBytes, segBytes, report] = await Promise.all([
    fetchBytes(c.ct),
    fetchBytes(c.seg),
    c.report ? fetchJson<Report>(c.report) : Promise.resolve(null),
  ]);
  const ctName = c.ct.split('/').pop()!;
  const segName = c.seg.split('/').pop()!;
  const opacity = Number(($('opacity') as HTMLInputElement).value);
  const [lo, hi] = WINDOW_PRESETS.abdomen;
  try {
    // niivue takes the bytes in place of a URL (`loadVolumes` does not pass `buffer` on); the names
    // give it the format.
    const bytes = (b: ArrayBuffer) => b as unknown as string;
    await nv.loadVolumes([
      { url: bytes(ctBytes), name: ctName, colormap: 'gray', cal_min: lo, cal_max: hi },
      { url: bytes(segBytes), name: segName, opacity },
    ]);
  } catch (e) {
    throw new Error(`${c.ct} / ${c.seg}: not readable as NIfTI (${(e as Error).message})`);
  }
  if (nv.volumes.length < 2) throw new Error(`${c.ct} / ${c.seg}: not readable as NIfTI`);
  const lut = { R: [0], G: [0], B: [0], A: [0], I: [0], labels: ['background'] };
  for (const l of manifest.labels) {
    lut.R.push(l.rgb[0]);
    lut.G.push(l.rgb[1]);
    lut.B.push(l.rgb[2]);
    lut.A.push(255);
    lut.I.push(l.value);
    lut.labels.push(l.name);
  }
  nv.volumes[1].setColormapLabel(lut);
  nv.volumes[0].colorbarVisible = false;
  nv.setMultiplanarLayout(MULTIPLANAR_TYPE.GRID);
  nv.setSliceType(SLICE_TYPE.MULTIPLANAR);
  setWindow('abdomen');
  fillLegend(manifest, report);
  fillReport(report);
  const first = report?.tumors?.items?.[0];
  if (first) hook.moveToMm(first.centroidWorld);
  nv.drawScene();
  // Ready once a frame with the volumes has been drawn.
  await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  $('status').textContent = `${c.name}: ${nv.volumes[0].dims?.slice(1, 4).join(' x ')} voxels`;
  hook.state = 'ready';
}

hook.crosshairMm = () => Array.from(nv.frac2mm(nv.scene.crosshairPos)).slice(0, 3);
hook.moveToMm = (mm) => {
  nv.scene.crosshairPos = nv.mm2frac(mm);
  nv.drawScene();
  nv.createOnLocationChange();
};
hook.pageXYOfMm = (mm) => {
  const hit = nv.frac2canvasPosWithTile(nv.mm2frac(mm), SLICE_TYPE.AXIAL);
  if (!hit) return null;
  const canvas = $('gl') as HTMLCanvasElement;
  const r = canvas.getBoundingClientRect();
  const s = r.width / canvas.width;
  return [r.left + hit.pos[0] * s, r.top + hit.pos[1] * s];
};

async function start(): Promise<void> {
  await nv.attachTo('gl');
  const manifest = await fetchJson<ViewerManifest>('manifest.json');
  if (!manifest.cases?.length) throw new Error('manifest.json lists no cases');
  const select = $('case') as HTMLSelectElement;
  for (const [i, c] of manifest.cases.entries()) select.append(new Option(c.name, String(i)));
  const wanted = new URLSearchParams(location.search).get('case');
  const initial = Math.max(
    0,
    manifest.cases.findIndex((c) => c.name === wanted),
  );
  select.value = String(initial);
  select.addEventListener('change', () =>
    showCase(manifest, Number(select.value)).catch((e) => fail(String(e.message ?? e))),
  );
  for (const b of document.querySelectorAll<HTMLButtonElement>('button[data-preset]'))
    b.addEventListener('click', () => setWindow(b.dataset.preset!));
  $('opacity').addEventListener('input', (ev) => {
    if (nv.volumes[1]) nv.setOpacity(1, Number((ev.target as HTMLInputElement).value));
  });
  await showCase(manifest, initial);
}

start().catch((e) => fail(e instanceof Error ? e.message : String(e)));
