/** What a running merge reports, in order: plan, progress..., finalise, done (or error). */
export type JobEvent =
  | { type: 'plan'; tensors: number; slices: number; inputBytes: number; outputBytes: number; files: number; workers: number }
  | { type: 'warning'; message: string }
  /** a document of a multi-document recipe starts (index from 1) */
  | { type: 'stage'; name: string; index: number; count: number }
  | {
      type: 'progress';
      tensorsDone: number;
      tensorsTotal: number;
      /** input bytes of finished merge tasks */
      bytesDone: number;
      bytesTotal: number;
      elapsedS: number;
      /** input GB/s so far */
      gbps: number;
      etaS: number | null;
    }
  /** AIM's activation statistics: computed (stage tasks done/total) or found in the cache */
  | { type: 'aim'; step: 'cached' | 'computing' | 'ready'; done?: number; total?: number; stats?: string }
  | { type: 'finalise'; step: 'metadata' | 'hash' | 'sync' | 'publish' }
  | {
      type: 'done';
      out: string;
      seconds: number;
      inputBytes: number;
      outputBytes: number;
      gbps: number;
      files: string[];
      peakRssBytes: number;
      digest?: string;
    };

export type EventSink = (event: JobEvent) => void;
