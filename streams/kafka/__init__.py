"""The broker plumbing: declared topics, the codec (bytes to validated events or dead letters),
connections and credentials, topic administration, publishing, and the embedded Tansu broker with
its quirks. Nothing here knows who gets what."""
