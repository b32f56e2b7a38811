"""The API fixtures, for tests of what a user does with the API's downloads."""

from tests.api.conftest import api_settings, app, client, feature_rows  # noqa: F401
