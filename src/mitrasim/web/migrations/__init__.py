"""Alembic migrations of the web app's database (run by :func:`mitrasim.web.db.run_migrations`)."""
