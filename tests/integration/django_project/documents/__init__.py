"""The test project's app: documents with an uploaded file."""
