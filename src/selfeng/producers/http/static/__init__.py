"""The dashboard's files (HTML, JS, CSS), served at / and /static/."""
