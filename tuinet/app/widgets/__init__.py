"""The app's widgets: each one shows plain data handed to it through public methods."""
