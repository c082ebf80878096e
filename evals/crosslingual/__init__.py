"""Cross-lingual eval data: a brand whose knowledge exists in one language only (README.md)."""
