"""Who gets what: the sharing policy (``sharing_policy.toml``, data, versioned) and the engine that
turns a validated event and what the store knows into planned deliveries, each an allow-listed view
naming the rule that allowed it."""
