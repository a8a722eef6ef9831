"""Storage: SQLAlchemy 1.4 in 2.0 style (async engine), Alembic migrations, encrypted personal fields."""
