import { DEVELOPMENT_SERVICE_CLIENT } from '../../src/config/configuration.js';

export interface FeedEvent {
  event: string;
  id: string;
  data: Record<string, unknown>;
}

export const SERVICE_AUTH = `Basic ${Buffer.from(`${DEVELOPMENT_SERVICE_CLIENT.id}:${DEVELOPMENT_SERVICE_CLIENT.secret}`).toString('base64')}`;

/**
 * A minimal SSE reader of GET /auth/revocations over real HTTP (what a downstream service does):
 * collects events and heartbeat comments, and notices when the server ends the stream.
 */
export class FeedClient {
  readonly events: FeedEvent[] = [];
  comments = 0;
  status = 0;
  headers = new Headers();
  body = '';
  ended = false;
  endedAt = 0;
  private readonly abort = new AbortController();
  private done: Promise<void> = Promise.resolve();

  static async open(
    baseUrl: string,
    options: { lastEventId?: string; query?: string; authorization?: string | null } = {},
  ): Promise<FeedClient> {
    const client = new FeedClient();
    const headers: Record<string, string> = {};
    if (options.authorization !== null) headers.Authorization = options.authorization ?? SERVICE_AUTH;
    if (options.lastEventId !== undefined) headers['Last-Event-ID'] = options.lastEventId;
    const response = await fetch(`${baseUrl}/auth/revocations${options.query ?? ''}`, { headers, signal: client.abort.signal });
    client.status = response.status;
    client.headers = response.headers;
    if (response.status !== 200 || !response.body) {
      client.body = await response.text();
      client.ended = true;
      return client;
    }
    client.done = client.consume(response.body);
    return client;
  }

  private async consume(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          this.parse(buffer.slice(0, cut));
          buffer = buffer.slice(cut + 2);
        }
      }
    } catch {
      // aborted by close()
    } finally {
      this.ended = true;
      this.endedAt = Date.now();
    }
  }

  private parse(block: string): void {
    let event = 'message';
    let id = '';
    const data: string[] = [];
    let comment = false;
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) comment = true;
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('id: ')) id = line.slice(4);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length) this.events.push({ event, id, data: JSON.parse(data.join('\n')) as Record<string, unknown> });
    else if (comment) this.comments++;
  }

  /** Revocation events about `sub`. */
  about(sub: string): Record<string, unknown>[] {
    return this.events.filter((e) => e.event === 'revocation' && e.data.sub === sub).map((e) => e.data);
  }

  get lastId(): string {
    return this.events[this.events.length - 1]?.id ?? '';
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.done;
  }
}
