"""Journey Explorer dashboard (placeholder until the dashboard pages land)."""

import streamlit as st

st.set_page_config(page_title="Journey Explorer", layout="wide")
st.title("Journey Explorer")
st.write("The dashboard pages are on their way. Use `journey export` meanwhile.")
