/*
 * Repairs the Google Cloud CLI's Pub/Sub emulator (cloud-pubsub-emulator 0.8.20).
 *
 * Its jar bundles a grpc-core whose ServerImpl calls
 * InternalStatus.asRuntimeException(Status, Metadata, boolean), but a grpc-api whose
 * InternalStatus lacks that method. So whenever a client resets a stream (a subscriber
 * shutting down, or a process exiting), the server throws NoSuchMethodError before the
 * emulator hears of it, keeps the dead streaming pull registered, and keeps assigning
 * messages to it: each such message waits out the ack deadline. Every consumer restart
 * leaves one more dead stream, until deliveries take minutes.
 *
 * scripts/lib.sh compiles this class and puts it ahead of the jar on the classpath. It
 * is the jar's own InternalStatus plus the missing method, built from the constructors
 * this grpc-api version has.
 */
package io.grpc;

public final class InternalStatus {
  private InternalStatus() {}

  public static final Metadata.Key<String> MESSAGE_KEY = Status.MESSAGE_KEY;

  public static final Metadata.Key<Status> CODE_KEY = Status.CODE_KEY;

  public static StatusRuntimeException asRuntimeExceptionWithoutStacktrace(
      Status status, Metadata trailers) {
    return new InternalStatusRuntimeException(status, trailers);
  }

  /** The method the bundled grpc-core expects and the bundled grpc-api lacks. */
  public static StatusRuntimeException asRuntimeException(
      Status status, Metadata trailers, boolean withStackTrace) {
    return withStackTrace
        ? new StatusRuntimeException(status, trailers)
        : new InternalStatusRuntimeException(status, trailers);
  }
}
