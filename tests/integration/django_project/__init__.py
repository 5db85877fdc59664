"""A minimal Django project whose storages are objstore's: settings, one app with a FileField, static files."""
