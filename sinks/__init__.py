"""Destinations: the SQL store of intake, deliveries, audit and state, and the sink contract."""
