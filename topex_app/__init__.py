"""What the dashboard's pages share: session state keys, the run guard, one status block
for long work, and cached resources. Streamlit lives here and in ``pages/``, never in
``topex_core``."""
