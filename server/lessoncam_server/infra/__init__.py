"""Plumbing every concern uses: the database, the data directory, durable writes, time, disk
space."""
