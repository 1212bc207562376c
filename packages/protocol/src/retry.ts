// Retrying NATS operations while the server is away (a restart, a network blip): the client
// reconnects by itself; requests made meanwhile fail and are tried again.

export async function withRetry<T>(op: () => Promise<T>, opts: { signal?: AbortSignal; attempts?: number; what?: string } = {}): Promise<T> {
  const attempts = opts.attempts ?? 60;
  let delay = 100;
  for (let i = 1; ; i++) {
    try {
      return await op();
    } catch (e) {
      if (i >= attempts || opts.signal?.aborted) throw e;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(2000, delay * 2);
    }
  }
}
