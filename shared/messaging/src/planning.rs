//! How the per-batch statements are planned.

/// Plans a statement afresh at each run instead of reusing the connection's cached plan.
///
/// For the per-batch statements that find a batch's rows by key in a table that grows
/// (`WHERE id = ANY($1)`, a join to `UNNEST`). PostgreSQL switches a prepared statement
/// to a generic plan after five runs and keeps it until the table is next analysed. A
/// plan made while the table was nearly empty (a fresh database, a new deployment) is a
/// sequential scan, and it stays one as the table grows: in the benchmark, notification
/// and email-push scanned 15,000–30,000 rows per batch within a minute. Planned at each
/// run, the statement sees the table's size and the batch's. That costs a parse and a
/// plan per run, so it suits statements run once per batch, not once per request.
pub trait PlannedEachRun {
    fn planned_each_run(self) -> Self;
}

impl<A> PlannedEachRun for sqlx::query::Query<'_, sqlx::Postgres, A> {
    fn planned_each_run(self) -> Self {
        self.persistent(false)
    }
}

impl<O, A> PlannedEachRun for sqlx::query::QueryAs<'_, sqlx::Postgres, O, A> {
    fn planned_each_run(self) -> Self {
        self.persistent(false)
    }
}

impl<O, A> PlannedEachRun for sqlx::query::QueryScalar<'_, sqlx::Postgres, O, A> {
    fn planned_each_run(self) -> Self {
        self.persistent(false)
    }
}
