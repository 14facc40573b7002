"""TopEx dashboard: declares the pages; each page is a thin layer over topex_core."""

import streamlit as st

st.set_page_config(page_title="TopEx", page_icon=":material/scatter_plot:", layout="wide")

navigation = st.navigation([
    st.Page("pages/data_and_model.py", title="Data & model", icon=":material/dataset:",
            default=True),
    st.Page("pages/explore.py", title="Explore", icon=":material/scatter_plot:"),
    st.Page("pages/augment.py", title="Augment", icon=":material/auto_awesome:"),
    st.Page("pages/retrain.py", title="Retrain & compare", icon=":material/compare_arrows:"),
])
navigation.run()
