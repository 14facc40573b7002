"""TopEx dashboard: declares the pages; each page is a thin layer over topex_core."""

import contextlib
import os

import streamlit as st

from topex_core.config import apply_secrets

st.set_page_config(page_title="TopEx", page_icon=":material/scatter_plot:", layout="wide")
with contextlib.suppress(FileNotFoundError):
    # .streamlit/secrets.toml (git-ignored; see secrets.toml.example) fills in settings the
    # environment leaves unset, such as the OpenAI-compatible server's API key.
    apply_secrets(st.secrets.to_dict())

if os.environ.get("TOPEX_REQUIRE_LOGIN") == "1" and not st.user.get("is_logged_in"):
    # Shared deployments: Streamlit's OIDC sign-in, configured in secrets.toml's [auth];
    # st.user has no is_logged_in at all when that section is missing.
    st.title("TopEx")
    if "is_logged_in" not in st.user:
        st.error("Sign-in is required (TOPEX_REQUIRE_LOGIN=1) but .streamlit/secrets.toml has "
                 "no [auth] section; see secrets.toml.example and the README.")
    else:
        st.write("This TopEx server asks you to sign in first.")
        st.button("Sign in", on_click=st.login, type="primary")
    st.stop()

navigation = st.navigation([
    st.Page("pages/data_and_model.py", title="Data & model", icon=":material/dataset:",
            default=True),
    st.Page("pages/explore.py", title="Explore", icon=":material/scatter_plot:"),
    st.Page("pages/augment.py", title="Augment", icon=":material/auto_awesome:"),
    st.Page("pages/retrain.py", title="Retrain & compare", icon=":material/compare_arrows:"),
])
navigation.run()
