/**
 * WebGPU in Node.js through the `webgpu` package (Dawn's Node bindings): `navigator.gpu` for
 * tfjs-backend-webgpu, and what adapter it gives. tfjs-backend-webgpu registers itself only when
 * `navigator.gpu` exists as its module is first evaluated, so `ensureNavigatorGpu` runs before that import.
 */

/** The adapter Dawn picked, as reported to users and to the GPU startup check. */
export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A CPU implementation (Mesa lavapipe/llvmpipe, SwiftShader, WARP) rather than a GPU. */
  software: boolean;
}

const SOFTWARE = /llvmpipe|lavapipe|swiftshader|softpipe|microsoft basic render|warp/i;

/** Whether the adapter described is a software (CPU) implementation. */
export function isSoftwareAdapter(
  info: Omit<AdapterReport, 'software'> & { isFallbackAdapter?: boolean },
): boolean {
  if (info.isFallbackAdapter) return true;
  if (info.architecture.toLowerCase() === 'software') return true;
  return SOFTWARE.test(`${info.vendor} ${info.device} ${info.description}`);
}

/** One line for logs: `nvidia hopper (NVIDIA H200, driver ...) GPU`. */
export function formatAdapter(a: AdapterReport): string {
  const name = [a.vendor, a.architecture].filter(Boolean).join(' ') || 'unknown vendor';
  const detail = [a.device, a.description].filter(Boolean).join(', ');
  return `${name}${detail ? ` (${detail})` : ''} ${a.software ? 'software adapter' : 'GPU'}`;
}

interface NodeGpu {
  requestAdapter(options?: { powerPreference?: string }): Promise<{
    info: {
      vendor: string;
      architecture: string;
      device: string;
      description: string;
      isFallbackAdapter?: boolean;
    };
  } | null>;
}

let report: Promise<AdapterReport> | undefined;

/**
 * Creates `navigator.gpu` from the `webgpu` package (unless one exists) and asks it for the
 * high-performance adapter tfjs will use; rejects when the package or an adapter is missing (no Vulkan
 * loader or ICD, for example). Resolves to the adapter's description; one request per process.
 */
export function ensureNavigatorGpu(): Promise<AdapterReport> {
  report ??= (async () => {
    const nav = (globalThis as { navigator?: { gpu?: NodeGpu } }).navigator;
    let gpu = nav?.gpu;
    if (!gpu) {
      const { create, globals } = await import('webgpu');
      Object.assign(globalThis, globals);
      gpu = create([]) as unknown as NodeGpu;
      if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
      else
        Object.defineProperty(globalThis, 'navigator', {
          value: { gpu },
          configurable: true,
          writable: true,
        });
    }
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) {
      throw new Error(
        'no WebGPU adapter (Dawn found no Vulkan device: install a Vulkan driver, e.g. mesa-vulkan-drivers, or the NVIDIA ICD; XDG_RUNTIME_DIR must be set)',
      );
    }
    const { vendor, architecture, device, description, isFallbackAdapter } = adapter.info;
    const base = { vendor, architecture, device, description };
    return { ...base, software: isSoftwareAdapter({ ...base, isFallbackAdapter }) };
  })();
  report.catch(() => {
    report = undefined; // let a later call retry (for example after the environment changed)
  });
  return report;
}
