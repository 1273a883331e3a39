/**
 * Errors of the database layer. They happen at start-up or in operations tooling, never in answer
 * to a client request, so they are plain errors rather than the API's client errors (lib/errors.ts).
 */
export class DatabaseError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The embedded PostgreSQL server could not be initialised, started or stopped. */
export class EmbeddedPostgresError extends DatabaseError {}

/** Another live process already runs the embedded server on this data directory. */
export class EmbeddedPostgresInUseError extends EmbeddedPostgresError {
  constructor(
    readonly dataDir: string,
    readonly ownerPid: number,
  ) {
    super(
      `the embedded PostgreSQL in ${dataDir} is in use by process ${ownerPid}; stop it, or give this process ` +
        "another PROXIMA_DATA_DIR (or a DATABASE_URL)",
    );
  }
}

/** Applying or generating migrations failed. */
export class MigrationError extends DatabaseError {}
