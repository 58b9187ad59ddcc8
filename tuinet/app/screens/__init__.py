"""The app's screens: the main train-and-watch screen and its modal dialogs."""
