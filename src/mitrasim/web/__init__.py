"""The web application: a FastAPI JSON API and one offline page (``mitrasim serve``).

Research and education only: not a medical device.
"""

__all__ = ["create_app"]


def __getattr__(name: str):
    if name == "create_app":
        from mitrasim.web.app import create_app

        return create_app
    raise AttributeError(name)
