"""The index contract: chunk schema, embedders, the sparse encoder, the Qdrant stores, the versioned index."""
import polydesk  # noqa: F401  (offline switches before any third-party import)
