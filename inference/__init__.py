"""The Flask-free core: artifact contract, feature schema, validation, prediction."""
