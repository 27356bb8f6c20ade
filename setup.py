# Metadata lives in pyproject.toml; this file only tells Babel how to extract messages.
from setuptools import setup

setup(
    message_extractors={
        "ckanext": [
            ("**.py", "python", None),
            ("**.js", "javascript", None),
            ("**/templates/**.html", "ckan", None),
            # The shipped catalogues' English texts (dev/babel_catalogue.py).
            ("**/builtin_catalogue.yaml", "dev.babel_catalogue:extract", None),
            ("**/examples/*.yaml", "dev.babel_catalogue:extract", None),
        ],
    }
)
