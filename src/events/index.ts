// The NATS JetStream event publisher (an outbox over the durable journal) and the event shapes.
export {
  EventPublisherHost,
  type EventPublisherHostOptions,
  type EventPublisherStatus,
} from './publisher-host.js';
export type { EventStreamSettings, EventsWorkerData, PublisherStats } from './protocol.js';
export { isStreamNotFound } from './nats-sink.js';
export {
  eventId,
  eventOf,
  eventsOf,
  eventSubjects,
  isPublished,
  type PublishedRecord,
  streamSubjectFilter,
  type OutboundEvent,
  type ReservationEvent,
  type StockAdjustedEvent,
} from './event-mapping.js';
