"""Stage 1, data: datasets read and validated, and the embedded demo."""
