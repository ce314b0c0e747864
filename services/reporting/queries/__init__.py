"""Read-only queries over the performance projections. Every query sums daily buckets up
to a day, so its cost depends on days and dimensions, never on the number of events; each
answers a whole batch of evaluations (a DataLoader's) at once.

Table names are unqualified: the connection's search_path names the projection schema (the
live ``performance``, or a snapshot a replay kept). Column lists come from the projections'
declarations (services/common/projections.py)."""
