"""The application shell: the service builder, the Faust app and its thin agents, worker processes,
the supervisor behind ``safeguard up``, logging, retries and the demo day."""
