"""The stream-processing side of the pipeline: topics, codec, agents, broker control and the CLI."""
