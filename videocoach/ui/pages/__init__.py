"""The app's pages: each file is run by ``st.navigation`` as a script (``__name__ == "__main__"``)."""
