// Every message between the main thread's EventPublisherHost and the events worker, typed in one
// place. They are rare and small, so they travel as plain structured-clone objects.

/** Where the events go and how the stream is made when it is missing. */
export interface EventStreamSettings {
  /** JetStream stream name (LEDGER_EVENTS_STREAM). */
  readonly name: string;
  /** Prepended to every subject (LEDGER_EVENTS_SUBJECT_PREFIX); empty in production. */
  readonly subjectPrefix: string;
  /** JetStream drops a repeated Nats-Msg-Id seen within this window. */
  readonly duplicateWindowSeconds: number;
  /** Limits retention: events older than this are removed; 0 keeps them until removed by hand. */
  readonly maxAgeSeconds: number;
}

export interface EventsWorkerData {
  readonly databaseUrl: string;
  readonly natsUrl: string;
  readonly stream: EventStreamSettings;
  /** In a cluster: the partitions this node publishes (undefined: all of them). */
  readonly owned?: readonly number[];
  /** LEDGER_TIMELINE_FILE: this thread records its GCs and stalls (undefined: off). */
  readonly timelineFile?: string;
}

/** The publisher's progress, pushed to the main thread for /metrics and /health/ready. */
export interface PublisherStats {
  /** A NATS session is open and the stream is known to exist. */
  readonly connected: boolean;
  /** Durable journal records not yet acknowledged by JetStream (all partitions). */
  readonly lagRecords: number;
  /**
   * When the oldest of them was committed (or, after a restart, first seen by the publisher);
   * null when there is no lag.
   */
  readonly oldestPendingAtMs: number | null;
  /** Events acknowledged by JetStream since the worker started, duplicates included. */
  readonly publishedTotal: number;
  /** The same, by subject (without the configured prefix). */
  readonly publishedBySubject: Readonly<Record<string, number>>;
  /** Of those, the ones JetStream reported as duplicates (already in the stream). */
  readonly duplicatesTotal: number;
  /** Publish rounds that failed (timeout, error, lost connection) and restarted from cursors. */
  readonly failuresTotal: number;
}

export type ToPublisher =
  | { readonly kind: 'wake'; readonly durableLsns: number[] }
  /** In a cluster: partitions this node now publishes, or no longer does. */
  | { readonly kind: 'own' | 'disown'; readonly partitions: readonly number[] }
  | { readonly kind: 'stop' };

export type FromPublisher =
  | { readonly kind: 'stats'; readonly stats: PublisherStats }
  | {
      readonly kind: 'log';
      readonly level: 'info' | 'warn' | 'error';
      readonly message: string;
    }
  | { readonly kind: 'stopped' };
