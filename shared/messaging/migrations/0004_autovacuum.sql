-- Retention deletes old inbox and outbox rows as fast as traffic adds new ones, but a
-- deleted row's space is reused only once vacuum has passed over it. PostgreSQL's
-- default waits for 20 % of a table to be dead: on tables of millions of rows that is
-- hours of traffic, during which every insert extends the table (measured: 600 to 920
-- MiB in ten minutes on 2-million-row tables, BENCHMARKS.md). Vacuum these two after
-- 1 % instead, so the space retention frees is what the next inserts fill.
ALTER TABLE processed_messages SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_insert_scale_factor = 0.01);
ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_insert_scale_factor = 0.01);
