"""The chat in the browser: app.py, which streamlit runs as a script (`qa ui`), and the modules beside it, which it
imports by bare name (streamlit puts the script's folder on sys.path). In a wheel this folder is the package
``qa.ui`` (pyproject.toml's package-dir); the file makes it a regular package, which an editable install needs to
import it under that name."""
