"""Health checks (/healthz) and Prometheus metrics (/metrics) for one process or a cluster.

Both read shared state (the database, the broker, the storage), so any API
process answers for the whole deployment, whichever worker ran the jobs.
"""
