/** The viewer's HTML page: layout and styles; `viewer.js` fills it from `manifest.json`. */

export const VIEWER_TITLE = 'RA-UNet segmentation viewer';

export function viewerHtml(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${VIEWER_TITLE}</title>
<style>
  html, body { margin: 0; height: 100%; background: #111; color: #ddd; font: 14px/1.4 system-ui, sans-serif; }
  #app { display: flex; height: 100%; }
  #stage { flex: 1; position: relative; min-width: 0; }
  #gl { width: 100%; height: 100%; display: block; }
  #side { width: 320px; overflow-y: auto; padding: 10px 14px; border-left: 1px solid #333; box-sizing: border-box; }
  h1 { font-size: 16px; margin: 0 0 8px; }
  h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .05em; color: #999; margin: 14px 0 6px; }
  .swatch { display: inline-block; width: 12px; height: 12px; margin-right: 6px; vertical-align: -1px; border: 1px solid #000; }
  table { border-collapse: collapse; width: 100%; }
  td, th { padding: 2px 4px; text-align: left; font-variant-numeric: tabular-nums; }
  #tumors tbody tr { cursor: pointer; }
  #tumors tbody tr:hover, #tumors tbody tr.selected { background: #3a2020; }
  button { background: #2a2a2a; color: #ddd; border: 1px solid #555; padding: 3px 8px; cursor: pointer; }
  button.active { border-color: #9cf; }
  #status { color: #999; }
  #error { display: none; position: absolute; inset: 0; padding: 40px; background: #2a0d0d; color: #fbb; font-size: 16px; white-space: pre-wrap; }
  #demo { display: none; background: #b35c00; color: #fff; font-weight: bold; padding: 4px 8px; margin-bottom: 8px; }
  .flag-warning { color: #fc6; }
  .flag-info { color: #9cf; }
  #flags { padding-left: 18px; margin: 0; }
</style>
</head>
<body>
<div id="app">
  <div id="stage"><canvas id="gl"></canvas><div id="error" role="alert"></div></div>
  <div id="side">
    <h1>${VIEWER_TITLE}</h1>
    <div id="demo">DEMO MODEL - not for clinical use</div>
    <label>Case <select id="case"></select></label>
    <div id="status">loading…</div>
    <h2>Legend</h2>
    <table id="legend"><tbody></tbody></table>
    <h2>Display</h2>
    <div>Window: <button data-preset="abdomen">abdomen</button> <button data-preset="liver">liver</button></div>
    <div><label>Label opacity <input id="opacity" type="range" min="0" max="1" step="0.05" value="0.5"></label></div>
    <h2>Report</h2>
    <table id="summary"><tbody></tbody></table>
    <ul id="flags"></ul>
    <h2>Tumors</h2>
    <table id="tumors"><thead><tr><th>#</th><th>mL</th><th>centre (mm, RAS)</th></tr></thead><tbody></tbody></table>
  </div>
</div>
<script type="module" src="viewer.js"></script>
</body>
</html>
`;
}
