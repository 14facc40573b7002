"""The durable store of candidates, decisions and training rounds (SQLite)."""
