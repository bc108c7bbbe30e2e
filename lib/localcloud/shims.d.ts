// Minimal typings of the two emulator packages (neither ships its own).
declare module 's3rver' {
  interface S3rverOptions {
    address?: string;
    port?: number;
    directory: string;
    silent?: boolean;
  }
  export default class S3rver {
    constructor(opts: S3rverOptions);
    run(): Promise<import('node:net').AddressInfo>;
    close(): Promise<void>;
    /** Every write and delete, as an S3 notification event (`{ Records: [...] }`). */
    on(event: 'event', listener: (e: { Records: never[] }) => void): this;
    /** The listening server (set by `run`). */
    readonly httpServer: import('node:http').Server;
  }
}
declare module 'dynalite' {
  export default function dynalite(opts?: {
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    path?: string;
  }): import('node:http').Server;
}
