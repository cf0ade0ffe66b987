"""The browser's pages, one file each: app/main.py runs them through st.navigation (the app never imports them)."""
